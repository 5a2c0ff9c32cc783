/**
 * Durations on the command line: `90s`, `30m`, `4h`, `1d`, `1h30m`, `500ms`. Pure, so it is tested alone.
 */

const UNIT_IN_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_IN_MS;

/** Thrown when a duration flag cannot be read; the message says what is accepted. */
export class InvalidDurationError extends Error {
  override readonly name = 'InvalidDurationError';
  readonly code = 'INVALID_DURATION';
  constructor(
    readonly input: string,
    why = 'is not a duration: use a number with a unit, like 90s, 30m, 4h, 1d or 1h30m',
  ) {
    super(`'${input}' ${why}`);
  }
}

/** Milliseconds in a duration like `4h` or `1h30m`; throws InvalidDurationError; zero is refused. */
export function parseDuration(input: string): number {
  const text = input.trim().toLowerCase();
  if (text === '') throw new InvalidDurationError(input);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (!match) throw new InvalidDurationError(input);
    total += Number(match[1]) * UNIT_IN_MS[match[2] as Unit];
    index = part.lastIndex;
  }
  const ms = Math.round(total);
  if (!Number.isFinite(ms)) throw new InvalidDurationError(input);
  if (ms <= 0)
    throw new InvalidDurationError(input, 'is no time at all: give a duration above zero, like 90s or 4h');
  return ms;
}

/** A short human form: 14400000 → `4h`, 5400000 → `1h30m`, 1500 → `1.5s`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))}s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1_000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
