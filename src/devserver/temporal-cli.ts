/**
 * Finds the `temporal` CLI (dev server with UI): $TEMPORAL_CLI_PATH, `temporal` on PATH,
 * $(go env GOPATH)/bin/temporal, then a one-time `go install` of the newest tag go install accepts (works
 * offline with a module cache). Nothing downloads it: the SDK's own download (TestWorkflowEnvironment) would
 * install the SDK's runtime before the worker can configure it, gives no child process to restart or kill,
 * and cannot be tested on machines without internet; without a CLI the error says how to install one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The newest CLI tag `go install` accepts: later tags carry a replace directive. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

/** Thrown when no temporal binary can be found or built. */
export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
  readonly code = 'TEMPORAL_CLI_NOT_FOUND';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function goBinDir(env: NodeJS.ProcessEnv): string | undefined {
  const go = onPath('go', env);
  if (!go) return undefined;
  try {
    const gopath = execFileSync(go, ['env', 'GOPATH'], { encoding: 'utf8', env }).trim().split(delimiter)[0];
    return gopath ? join(gopath, 'bin') : undefined;
  } catch {
    return undefined;
  }
}

export interface ResolveTemporalCliOptions {
  /** Build with `go install` when nothing is found and Go exists. @default true */
  build?: boolean;
  /** Where build progress goes. @default process.stderr */
  log?: (line: string) => void;
  /** Where PATH and TEMPORAL_CLI_PATH come from. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** How someone without the CLI gets one, for this machine's platform. */
export function temporalCliInstallHelp(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): string {
  const os = platform === 'win32' ? 'windows' : platform;
  const cpu = arch === 'x64' ? 'amd64' : arch;
  return [
    'Install the Temporal CLI, then run this again:',
    ...(platform === 'darwin' || platform === 'linux' ? ['  - Homebrew: brew install temporal'] : []),
    `  - download: https://temporal.download/cli/archive/latest?platform=${os}&arch=${cpu} (or a release from`,
    '    https://github.com/temporalio/cli/releases), extract it and put `temporal` on PATH;',
    `  - with Go >= 1.25: go install ${TEMPORAL_CLI_MODULE} (lands in $(go env GOPATH)/bin, found there);`,
    '  - or set TEMPORAL_CLI_PATH to a temporal binary.',
  ].join('\n');
}

/** resolveTemporalCli, or a TemporalCliNotFoundError that says how to install the CLI. */
export function requireTemporalCli(options: ResolveTemporalCliOptions = {}): string {
  const cli = resolveTemporalCli(options);
  if (cli) return cli;
  throw new TemporalCliNotFoundError(
    `No Temporal CLI: TEMPORAL_CLI_PATH is unset, there is no \`temporal\` on PATH and no Go to build one.\n${temporalCliInstallHelp()}`,
  );
}

/** The path of a usable temporal binary, or undefined when there is none and no Go to build it. */
export function resolveTemporalCli(options: ResolveTemporalCliOptions = {}): string | undefined {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = options.env ?? process.env;
  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv))
      throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const found = onPath('temporal', env);
  if (found) return found;
  const binDir = goBinDir(env);
  if (!binDir) return undefined;
  const built = join(binDir, 'temporal');
  if (isExecutable(built)) return built;
  if (options.build === false) return undefined;
  log(`Building the Temporal CLI once: go install ${TEMPORAL_CLI_MODULE} (takes a few minutes)…`);
  const result = spawnSync(onPath('go', env) ?? 'go', ['install', TEMPORAL_CLI_MODULE], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  if (result.status !== 0 || !isExecutable(built)) {
    throw new TemporalCliNotFoundError(
      `go install ${TEMPORAL_CLI_MODULE} failed (exit ${result.status}); set TEMPORAL_CLI_PATH to a temporal binary`,
    );
  }
  return built;
}
