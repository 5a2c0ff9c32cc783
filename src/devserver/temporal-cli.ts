/**
 * Finds the `temporal` CLI (dev server with UI). These machines cannot download it, so the order is:
 * $TEMPORAL_CLI_PATH, `temporal` on PATH, $(go env GOPATH)/bin/temporal, then a one-time
 * `go install` of the newest tag go install accepts. Only without Go does the caller fall back to the
 * SDK's own download (users with internet).
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

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function goBinDir(): string | undefined {
  if (!onPath('go')) return undefined;
  try {
    const gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim().split(delimiter)[0];
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
}

/**
 * The path of a usable temporal binary, or undefined when there is none and no Go to build it
 * (then let the SDK download it).
 */
export function resolveTemporalCli(options: ResolveTemporalCliOptions = {}): string | undefined {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv))
      throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const found = onPath('temporal');
  if (found) return found;
  const binDir = goBinDir();
  if (!binDir) return undefined;
  const built = join(binDir, 'temporal');
  if (isExecutable(built)) return built;
  if (options.build === false) return undefined;
  log(`Building the Temporal CLI once: go install ${TEMPORAL_CLI_MODULE} (takes a few minutes)…`);
  const result = spawnSync('go', ['install', TEMPORAL_CLI_MODULE], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0 || !isExecutable(built)) {
    throw new TemporalCliNotFoundError(
      `go install ${TEMPORAL_CLI_MODULE} failed (exit ${result.status}); set TEMPORAL_CLI_PATH to a temporal binary`,
    );
  }
  return built;
}
