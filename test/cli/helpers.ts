/**
 * Driving the CLI as a user does: `node bin/policy-sync.js …` in a subprocess, with only the environment
 * the test gives it (plus PATH and HOME), collecting stdout, stderr and the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'policy-sync.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The ambient environment a subprocess may see: nothing of this machine's own configuration. */
export function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TEMPORAL_CLI_PATH', 'TSX_TSCONFIG_PATH'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout or stderr matches. */
  waitFor(pattern: RegExp, timeoutInMs?: number): Promise<void>;
  exited: Promise<CliResult>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...baseEnv(), ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const l of listeners) l();
  });
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      for (const l of listeners) l();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor(pattern, timeoutInMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        let done = false;
        const check = () => {
          if (done) return;
          if (pattern.test(stdout) || pattern.test(stderr)) {
            done = true;
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done = true;
            listeners.delete(check);
            clearTimeout(timer);
            reject(
              new Error(
                `exited (${child.exitCode}) before ${String(pattern)}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done = true;
          listeners.delete(check);
          reject(
            new Error(`timed out waiting for ${String(pattern)}\nstdout:\n${stdout}\nstderr:\n${stderr}`),
          );
        }, timeoutInMs);
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs the CLI to the end; kills it after the timeout. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutInMs = 180_000,
): Promise<CliResult> {
  const running = startCli(args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutInMs);
  try {
    return await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A readable account of a result for assertion messages. */
export function show(result: CliResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Parses stdout as exactly one JSON document (what `--json` promises). */
export function stdoutJson<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    throw new Error(`stdout is not one JSON document (${String(error)})\n${show(result)}`, { cause: error });
  }
}
