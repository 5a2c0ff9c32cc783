/** A benchmark side's child process: started and loaded before the clock starts, driven by IPC messages. */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

/** What our worker's child process needs: the emulator's variables, its CA, Temporal and the workflow bundle. */
export function ourWorkerEnv(
  emulator: { env: Record<string, string>; caBundlePath: string },
  temporal: { address: string; bundlePath: string },
  taskQueue: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...emulator.env,
    NODE_EXTRA_CA_CERTS: emulator.caBundlePath,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    BENCH_WORKFLOW_BUNDLE: temporal.bundlePath,
    ...extra,
  };
}

/**
 * Starts a side's process (its stderr goes to `logFile`) and resolves once it says `ready`. `root` is the
 * checkout the script comes from (default: this one); the process runs there, so `--import tsx` and every
 * import resolve in that checkout's own node_modules and sources.
 */
export function forkSide(
  script: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  root: string = ROOT,
): Promise<ChildProcess> {
  return new Promise((resolveReady, reject) => {
    const logFd = openSync(logFile, 'w');
    const child = fork(join(root, script), [], {
      cwd: root,
      env,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', logFd, logFd, 'ipc'],
    });
    closeSync(logFd);
    const onExit = (code: number | null) =>
      reject(new Error(`${script} exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', function onMessage(message: { type?: string }) {
      if (message.type !== 'ready') return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolveReady(child);
    });
  });
}

export function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolveMessage, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${type} from the child within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onMessage = (message: { type?: string }) => {
      if (message.type !== type) return;
      cleanup();
      resolveMessage(message as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`the child exited with ${code} before ${type}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}
