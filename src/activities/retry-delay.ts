/**
 * Retry delays for ApplicationFailure.nextRetryDelay. Temporal adds no jitter of its own, so hundreds of
 * devices refused at once would come back at once: these spread them. Pure (randomness is injected).
 * Without options, the workflows' device retry defaults apply.
 */
import { RETRY_DEFAULTS } from '../workflows/options';

export interface BackoffOptions {
  /** @default RETRY_DEFAULTS.initialIntervalInMs (1000) */
  initialIntervalInMs?: number;
  /** @default RETRY_DEFAULTS.backoffCoefficient (2) */
  backoffCoefficient?: number;
  /** @default RETRY_DEFAULTS.maximumIntervalInMs (8000) */
  maximumIntervalInMs?: number;
  /** Never retry sooner than this. @default 100 */
  minimumIntervalInMs?: number;
}

/** The un-jittered exponential delay after attempt `attempt` (1-based): initial × coefficient^(attempt-1), capped. */
export function exponentialBackoffInMs(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialIntervalInMs ?? RETRY_DEFAULTS.initialIntervalInMs;
  const coefficient = options.backoffCoefficient ?? RETRY_DEFAULTS.backoffCoefficient;
  const max = options.maximumIntervalInMs ?? RETRY_DEFAULTS.maximumIntervalInMs;
  return Math.min(max, initial * coefficient ** Math.max(0, attempt - 1));
}

/** "Full jitter": uniformly between the minimum and the exponential delay. */
export function fullJitterBackoffInMs(
  attempt: number,
  random: () => number,
  options: BackoffOptions = {},
): number {
  const ceiling = exponentialBackoffInMs(attempt, options);
  const floor = Math.min(options.minimumIntervalInMs ?? 100, ceiling);
  return Math.round(floor + random() * (ceiling - floor));
}

/**
 * After a 429 or a 503 with Retry-After: what the server asked for, plus a little jitter (up to 10% of it,
 * at least 50 ms and at most 1 s) so the waiting writes do not all return in the same instant.
 */
export function retryAfterWithJitterInMs(retryAfterInMs: number, random: () => number): number {
  const spread = Math.min(1000, Math.max(50, retryAfterInMs * 0.1));
  return Math.round(retryAfterInMs + random() * spread);
}
