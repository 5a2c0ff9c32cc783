/**
 * Retry delays for ApplicationFailure.nextRetryDelay. Temporal adds no jitter of its own, so hundreds of
 * devices refused at once would come back at once: these spread them. Pure (randomness is injected).
 * Without options, the workflows' device retry defaults apply.
 */
import { RETRY_DEFAULTS } from '../domain/retry-defaults';

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

/**
 * Which writes of this worker succeeded lately, per target. A 403 while other writes to the same hub succeed
 * means the role assignment is in place and some of Azure's front-ends have not caught up yet (RBAC settles
 * instance by instance): the next try is likely to pass, so it need not wait a full backoff. A 403 with no
 * success in sight (the grant not there at all) keeps the exponential backoff.
 */
export class GrantEvidence {
  private readonly lastSuccessInMs = new Map<string, number>();

  noteSuccess(target: string, nowInMs: number): void {
    this.lastSuccessInMs.set(target, nowInMs);
  }

  /** Whether a write to `target` succeeded within the last `windowInMs`. */
  seenWithin(target: string, nowInMs: number, windowInMs: number): boolean {
    const last = this.lastSuccessInMs.get(target);
    return last !== undefined && nowInMs - last <= windowInMs;
  }
}

/** How recent a success must be to count as evidence that the grant is settling. */
export const SETTLING_EVIDENCE_WINDOW_MS = 10_000;
/** The longest wait after a 403 while the grant settles (full jitter from 100 ms). */
export const SETTLING_MAXIMUM_DELAY_MS = 2_000;

/** Full jitter from 100 ms up to `capInMs`, never longer than `backoffInMs`. */
function cappedJitterInMs(backoffInMs: number, capInMs: number, random: () => number): number {
  const ceiling = Math.min(backoffInMs, capInMs);
  const floor = Math.min(100, ceiling);
  return Math.round(floor + random() * (ceiling - floor));
}

/** The delay after a 403 while the grant settles: full jitter up to 2 s, never longer than `backoffInMs`. */
export function settlingDelayInMs(backoffInMs: number, random: () => number): number {
  return cappedJitterInMs(backoffInMs, SETTLING_MAXIMUM_DELAY_MS, random);
}

/** The longest wait after a 403 while the hub's authorization gate probes (full jitter from 100 ms). */
export const GATED_MAXIMUM_DELAY_MS = 500;

/**
 * The delay after a 403 while the hub's authorization gate probes: short (up to 500 ms, never longer than
 * `backoffInMs`), because the next attempt waits at the gate, which lets it go as soon as probes pass.
 */
export function gatedRetryDelayInMs(backoffInMs: number, random: () => number): number {
  return cappedJitterInMs(backoffInMs, GATED_MAXIMUM_DELAY_MS, random);
}

/** The longest one write waits at the gate: 20 s, and 5 s short of the attempt's own timeout. */
export function gateWaitInMs(startToCloseTimeoutInMs: number): number {
  return Math.max(1_000, Math.min(20_000, startToCloseTimeoutInMs - 5_000));
}

/** The pause before such a try: 50 to 300 ms, so the fleet's tries spread out. */
export function settlingPauseInMs(random: () => number): number {
  return Math.round(50 + random() * 250);
}

/** What decides whether a refused write is tried again within its attempt. */
export interface WithinAttemptOutlook {
  /**
   * The workflow's local first attempt: one try. Its failure reaches the workflow at once, where it counts as a
   * device retrying (the live 403 rate, the alert) and hands the device to the durable activity, whose attempts
   * and heartbeat details the UI shows.
   */
  isLocal: boolean;
  /** The failure is a retryable RBAC refusal (403 AuthorizationFailed). */
  authorization: boolean;
  /** The hub's authorization gate is probing: it paces the tries. */
  gated: boolean;
  /** Other writes of the hub passed lately (the grant is settling). */
  settling: boolean;
  /** The number of the try that was refused. */
  attempt: number;
  /** The device's try budget. */
  maximumAttempts?: number;
  /** Until the attempt must end (its own timeout, less a margin). */
  timeLeftInMs: number;
}

/**
 * A refusal while the grant settles is tried again within the durable attempt, as long as the attempt has time and
 * the device tries left: while the gate probes (it paces the tries), or while other writes of the hub pass (a pause
 * of 50–300 ms between tries). A device refused for good while others pass so spends its tries in seconds, not
 * minutes. Anything else goes to Temporal's retry policy. Pure.
 */
export function triesAgainWithinAttempt(o: WithinAttemptOutlook): boolean {
  if (o.isLocal || !o.authorization || o.timeLeftInMs <= 0) return false;
  if (o.maximumAttempts !== undefined && o.attempt >= o.maximumAttempts) return false;
  return o.gated || o.settling;
}
