/**
 * `.policy-sync/demo.env`: what points the CLI in another shell at the running demo (`source` it). It holds
 * the emulator's client secret, so it is written 0600 in a 0700 directory, and removed when the demo stops.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { shellQuote } from '../emulator/cli';

/** Where the demo writes it, under the working directory. */
export const DEMO_ENV_PATH = join('.policy-sync', 'demo.env');

/**
 * Variables a shell may hold that would send the CLI somewhere else than the dev server (which speaks
 * plain gRPC, without an API key or client certificate).
 */
const UNSET_FOR_DEMO = ['TEMPORAL_API_KEY', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'] as const;

/** Pure: the file's text: a stale check, the unsets, then one `export NAME='value'` line per variable. */
export function demoEnvText(variables: Record<string, string>, demoPid: number): string {
  return [
    `# Written by \`policy-sync demo\` (pid ${demoPid}): points policy-sync at that demo. Use it in another`,
    '# shell with `source .policy-sync/demo.env`. It holds a client secret (of the emulator): keep it private.',
    `if ! kill -0 ${demoPid} 2>/dev/null; then`,
    `  echo "policy-sync: the demo that wrote this file (pid ${demoPid}) is not running: these settings are stale" >&2`,
    'fi',
    `unset ${UNSET_FOR_DEMO.join(' ')}`,
    ...Object.entries(variables).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    '',
  ].join('\n');
}

export interface DemoEnvFile {
  /** The path as the user should type it: relative to the working directory when inside it. */
  readonly displayPath: string;
  /** Removes the file, unless another demo has written its own since. */
  remove(): void;
}

/** Writes the file under `dir` (mode 0600, atomically: a reader never sees half of it). */
export function writeDemoEnv(
  dir: string,
  variables: Record<string, string>,
  demoPid: number = process.pid,
): DemoEnvFile {
  const path = join(dir, DEMO_ENV_PATH);
  const folder = join(dir, '.policy-sync');
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const text = demoEnvText(variables, demoPid);
  // A new file gets mode 0600 whatever it replaces; rename makes it appear whole.
  const temporary = `${path}.${demoPid}.tmp`;
  rmSync(temporary, { force: true });
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, path);
  const shown = relative(process.cwd(), path);
  return {
    displayPath: shown.startsWith('..') ? path : shown,
    remove() {
      try {
        if (readFileSync(path, 'utf8') === text) rmSync(path, { force: true });
      } catch {
        // Already gone.
      }
    },
  };
}
