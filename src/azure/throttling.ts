/**
 * The throttling decision, apart from the I/O: how long Azure asked us to wait.
 * Headers: `retry-after-ms`, `x-ms-retry-after-ms` (milliseconds) and `Retry-After` (seconds or an HTTP date),
 * the same order of preference as @azure/core-rest-pipeline's throttling policy.
 */

/** Header bag as undici and Node deliver it (lower-case names) or a plain record. */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** Reads one header case-insensitively; for repeated headers, the first value. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== lower) continue;
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.trim();
  }
  return undefined;
}

function parseMilliseconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined;
  return Math.ceil(Number(value));
}

/**
 * The delay Azure asked for, in ms, or undefined when no header says so.
 * A date in the past gives 0. Never negative.
 */
export function retryAfterInMs(headers: HeaderBag, nowInMs: number = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = parseMilliseconds(headerValue(headers, name));
    if (ms !== undefined) return ms;
  }
  const retryAfter = headerValue(headers, 'retry-after');
  if (retryAfter === undefined || retryAfter === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);
  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowInMs);
}

/** Status codes that mean "slow down": 429 always, 503 when it carries a retry delay or not at all. */
export function isThrottlingStatus(statusCode: number): boolean {
  return statusCode === 429 || statusCode === 503;
}

export interface ThrottlingDecision {
  throttled: boolean;
  /** How long to wait before the next attempt; undefined when the server gave no hint. */
  retryAfterInMs?: number;
}

/** Decides whether a response is throttling and how long to wait. Pure. */
export function decideThrottling(
  statusCode: number,
  headers: HeaderBag,
  nowInMs: number = Date.now(),
): ThrottlingDecision {
  if (!isThrottlingStatus(statusCode)) return { throttled: false };
  const delay = retryAfterInMs(headers, nowInMs);
  return delay === undefined ? { throttled: true } : { throttled: true, retryAfterInMs: delay };
}
