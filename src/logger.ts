/**
 * A small logger: one JSON object or one plain line per entry, to stderr (stdout belongs to `--json`).
 * Every line goes through `redact`, which removes bearer tokens, JWTs, client secrets and every value
 * registered with `registerSecret` (the worker registers the client secret and each issued token).
 * It implements Temporal's Logger interface, so the worker can hand it to the SDK too.
 */
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';

export type { LogLevel, LogMetadata };

const LEVEL_ORDER: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/** Values that must never be printed. Module-wide, because a secret is a secret for every logger and error. */
const registeredSecrets = new Set<string>();
/** Bound on remembered secrets: tokens are registered as they are issued, and old ones expire anyway. */
const MAX_REGISTERED_SECRETS = 512;

/** Remembers a value that `redact` must remove from any text. Values shorter than 8 characters are ignored. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < 8 || registeredSecrets.has(value)) return;
  if (registeredSecrets.size >= MAX_REGISTERED_SECRETS) {
    const oldest = registeredSecrets.values().next().value;
    if (oldest !== undefined) registeredSecrets.delete(oldest);
  }
  registeredSecrets.add(value);
}

const REDACTED = '[REDACTED]';
const PATTERNS: [RegExp, string][] = [
  // Authorization headers and the like.
  [/\b(Bearer|SharedAccessSignature)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
  // JWTs wherever they appear (access tokens, client assertions).
  [/\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, REDACTED],
  // Form- or query-encoded secrets.
  [/\b(client_secret|client_assertion|access_token|refresh_token|sig)=[^&\s"']+/gi, `$1=${REDACTED}`],
  // JSON-encoded secrets.
  [
    /("(?:clientSecret|client_secret|accessToken|access_token|token|authorization|password)"\s*:\s*)"[^"]*"/gi,
    `$1"${REDACTED}"`,
  ],
];

/** Removes tokens and secrets from a text. */
export function redact(text: string): string {
  let out = text;
  for (const secret of registeredSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

export interface Logger extends TemporalLogger {
  /** A logger that adds these fields to every entry. */
  child(fields: LogMetadata): Logger;
}

export interface LoggerOptions {
  /** @default 'json' when stderr is not a TTY, else 'plain' */
  format?: 'json' | 'plain';
  /** Entries below this level are dropped. @default 'INFO' */
  level?: LogLevel;
  /** Where lines go. @default process.stderr */
  write?: (line: string) => void;
  /** Fields added to every entry. */
  fields?: LogMetadata;
  /** @default () => new Date() */
  now?: () => Date;
}

function errorFields(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  const withCode = error as Error & { code?: unknown; statusCode?: unknown };
  if (withCode.code !== undefined) out.code = withCode.code;
  if (withCode.statusCode !== undefined) out.statusCode = withCode.statusCode;
  return out;
}

function toPlainValue(value: unknown): unknown {
  if (value instanceof Error) return errorFields(value);
  return value;
}

function serializeMeta(meta: LogMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) out[key] = toPlainValue(value);
  return out;
}

function plainValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

/** Creates a logger; see LoggerOptions for the defaults. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (process.stderr.isTTY ? 'plain' : 'json');
  const minLevel = LEVEL_ORDER[options.level ?? 'INFO'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const baseFields = options.fields ?? {};

  const make = (fields: LogMetadata): Logger => {
    const log = (level: LogLevel, message: string, meta?: LogMetadata): void => {
      if (LEVEL_ORDER[level] < minLevel) return;
      const merged = serializeMeta({ ...fields, ...(meta ?? {}) });
      const time = now().toISOString();
      let line: string;
      if (format === 'json') {
        line = JSON.stringify({ time, level, message, ...merged });
      } else {
        const rest = Object.entries(merged)
          .map(([k, v]) => `${k}=${plainValue(v)}`)
          .join(' ');
        line = `${time} ${level.padEnd(5)} ${message}${rest ? ` ${rest}` : ''}`;
      }
      write(redact(line));
    };
    return {
      log,
      trace: (message, meta) => log('TRACE', message, meta),
      debug: (message, meta) => log('DEBUG', message, meta),
      info: (message, meta) => log('INFO', message, meta),
      warn: (message, meta) => log('WARN', message, meta),
      error: (message, meta) => log('ERROR', message, meta),
      child: (more) => make({ ...fields, ...more }),
    };
  };
  return make(baseFields);
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = createLogger({ write: () => undefined, level: 'ERROR', format: 'json' });
