/**
 * Looking for leaked secrets: the client secret and every access token an emulator issued, in workflow
 * histories (payloads decoded, not base64) and in captured logs.
 *
 * A leak is any 16-character piece of a secret (the random part of a token: `emu.` is left out), so a
 * truncated or re-wrapped secret is found too. Messages never print a secret, only where it was found.
 *
 * The ledger: every e2e/chaos file writes its emulators' secrets and its captured logs into a directory of
 * the test run (beside the run's workflow bundle, which test/run-tests.ts removes at the end), so that
 * test/chaos/secrets.chaos.ts can check every history on the run's dev server against every secret.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Emulator } from '../../src/emulator';

const WINDOW = 16;
const RUN = /[A-Za-z0-9_~.-]{16,}/g;

export interface Leak {
  secret: string;
  source: string;
  offset: number;
}

export class SecretScanner {
  private readonly fragments = new Map<string, string>();
  private readonly labels = new Set<string>();

  /** `label` names the secret in reports (never the secret itself). */
  add(label: string, secret: string): this {
    const core = secret.startsWith('emu.') ? secret.slice(4) : secret;
    if (core.length < WINDOW) throw new Error(`${label} is too short to look for`);
    this.labels.add(label);
    for (let i = 0; i + WINDOW <= core.length; i++) this.fragments.set(core.slice(i, i + WINDOW), label);
    return this;
  }

  addEmulator(name: string, secrets: { clientSecret: string; tokens: string[] }): this {
    this.add(`${name}: client secret`, secrets.clientSecret);
    secrets.tokens.forEach((token, i) => this.add(`${name}: token #${i + 1}`, token));
    return this;
  }

  get size(): number {
    return this.labels.size;
  }

  /** Every place of `text` holding a piece of a secret (at most one per secret and source). */
  scan(source: string, text: string): Leak[] {
    const leaks = new Map<string, Leak>();
    for (const match of text.matchAll(RUN)) {
      const run = match[0];
      for (let i = 0; i + WINDOW <= run.length; i++) {
        const secret = this.fragments.get(run.slice(i, i + WINDOW));
        if (secret && !leaks.has(secret)) leaks.set(secret, { secret, source, offset: match.index + i });
      }
    }
    return [...leaks.values()];
  }
}

/** Every string of a history, with payload bytes decoded as UTF-8 (JSON.stringify would show base64). */
export function historyText(history: unknown): string {
  const parts: string[] = [];
  const seen = new Set<object>();
  const walk = (value: unknown): void => {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') {
      parts.push(value);
      return;
    }
    if (value instanceof Uint8Array) {
      parts.push(Buffer.from(value).toString('utf8'));
      return;
    }
    if (typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      parts.push(key);
      walk(item);
    }
  };
  walk(history);
  return parts.join('\n');
}

export interface ScannedHistory {
  workflowId: string;
  runId: string;
  events: number;
  text: string;
}

/** Every workflow execution the dev server lists for `query` (all of them by default), with its history as text. */
export async function historiesOf(client: Client, query?: string): Promise<ScannedHistory[]> {
  const out: ScannedHistory[] = [];
  for await (const info of client.workflow.list(query ? { query } : {})) {
    const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    out.push({
      workflowId: info.workflowId,
      runId: info.runId,
      events: history.events?.length ?? 0,
      text: historyText(history),
    });
  }
  return out;
}

/** Human-readable leak lines (no secret in them). */
export function describeLeaks(leaks: Leak[]): string {
  return leaks.map((l) => `${l.secret} found in ${l.source} at offset ${l.offset}`).join('\n');
}

// ---- the run's ledger ----

/** The run's ledger directory; undefined for a file run alone (then the ledger is this process's memory). */
function ledgerDir(): string | undefined {
  const bundle = process.env.TEST_WORKFLOW_BUNDLE;
  if (!bundle) return undefined;
  const dir = join(dirname(bundle), 'secret-ledger');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const inMemory = new Map<string, string>();

function write(file: string, text: string): void {
  const dir = ledgerDir();
  if (dir) writeFileSync(join(dir, file), text);
  else inMemory.set(file, text);
}

function safeName(name: string): string {
  return name.replace(/[^\w.-]+/g, '_');
}

/** Writes an emulator's client secret and tokens (call it once every token was issued, e.g. in `after`). */
export function recordEmulatorSecrets(name: string, emulator: Emulator): void {
  const secrets = { clientSecret: emulator.env.AZURE_CLIENT_SECRET!, tokens: emulator.issuedTokens() };
  write(`${safeName(name)}.secrets.json`, JSON.stringify(secrets));
}

/** Writes captured log text (worker stderr, CLI output, in-process logger lines). */
export function recordLogs(name: string, text: string): void {
  write(`${safeName(name)}.log`, text);
}

export interface Ledger {
  emulators: { name: string; clientSecret: string; tokens: string[] }[];
  logs: { name: string; text: string }[];
}

export function readLedger(): Ledger {
  const dir = ledgerDir();
  const files = dir
    ? readdirSync(dir).map((file) => [file, readFileSync(join(dir, file), 'utf8')] as const)
    : [...inMemory];
  const ledger: Ledger = { emulators: [], logs: [] };
  for (const [file, text] of files.sort(([a], [b]) => a.localeCompare(b))) {
    if (file.endsWith('.secrets.json')) {
      const { clientSecret, tokens } = JSON.parse(text) as { clientSecret: string; tokens: string[] };
      ledger.emulators.push({ name: file.slice(0, -'.secrets.json'.length), clientSecret, tokens });
    } else if (file.endsWith('.log')) {
      ledger.logs.push({ name: file, text });
    }
  }
  return ledger;
}
