import { isJsonObject } from './devices';

/**
 * The opaque continuation of a listing (ARM's `$skiptoken`, IoT Hub's `x-ms-continuation`): where the next
 * page starts and when the continuation was issued, so that one left unused too long can expire.
 */
export interface Continuation {
  offset: number;
  /** When the page that carried it was served (ms since the epoch). */
  issuedAtMs: number;
}

export function encodeContinuation(continuation: Continuation): string {
  return Buffer.from(JSON.stringify({ o: continuation.offset, t: continuation.issuedAtMs })).toString(
    'base64url',
  );
}

/** The continuation, or 'invalid' when it is not one of ours. */
export function decodeContinuation(value: string): Continuation | 'invalid' {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (!isJsonObject(decoded)) return 'invalid';
    const { o: offset, t: issuedAtMs } = decoded;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) return 'invalid';
    if (typeof issuedAtMs !== 'number' || !Number.isFinite(issuedAtMs)) return 'invalid';
    return { offset, issuedAtMs };
  } catch {
    return 'invalid';
  }
}

/** Whether a continuation has outlived `ttlMs` (0: continuations never expire). */
export function continuationExpired(continuation: Continuation, ttlMs: number, nowMs: number): boolean {
  return ttlMs > 0 && nowMs - continuation.issuedAtMs > ttlMs;
}
