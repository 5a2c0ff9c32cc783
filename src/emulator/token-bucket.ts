/** A token bucket: `burst` tokens when full, refilled continuously at `refillPerSec`. */
export interface TokenBucketSettings {
  burst: number;
  refillPerSec: number;
}

export interface TokenBucketState {
  tokens: number;
  updatedAtMs: number;
}

export interface TokenBucketDecision {
  allowed: boolean;
  /** Whole tokens left after this request: what ARM reports in x-ms-ratelimit-remaining-subscription-*. */
  remaining: number;
  /** When refused: whole seconds until one token is back (ARM's Retry-After). 0 when allowed. */
  retryAfterSeconds: number;
  state: TokenBucketState;
}

/** Refills the bucket up to `nowMs` and takes one token if there is one. Pure: returns the next state. */
export function takeToken(
  previous: TokenBucketState | undefined,
  settings: TokenBucketSettings,
  nowMs: number,
): TokenBucketDecision {
  const refilled = refill(previous, settings, nowMs);
  if (refilled.tokens >= 1) {
    const state = { tokens: refilled.tokens - 1, updatedAtMs: nowMs };
    return { allowed: true, remaining: Math.floor(state.tokens), retryAfterSeconds: 0, state };
  }
  const missing = 1 - refilled.tokens;
  const retryAfterSeconds =
    settings.refillPerSec > 0 ? Math.max(1, Math.ceil(missing / settings.refillPerSec)) : 60;
  return { allowed: false, remaining: 0, retryAfterSeconds, state: refilled };
}

/** The bucket's whole tokens at `nowMs`, without taking one. */
export function remainingTokens(
  previous: TokenBucketState | undefined,
  settings: TokenBucketSettings,
  nowMs: number,
): number {
  return Math.floor(refill(previous, settings, nowMs).tokens);
}

function refill(
  previous: TokenBucketState | undefined,
  settings: TokenBucketSettings,
  nowMs: number,
): TokenBucketState {
  if (!previous) return { tokens: settings.burst, updatedAtMs: nowMs };
  const elapsedSec = Math.max(0, nowMs - previous.updatedAtMs) / 1000;
  const tokens = Math.min(settings.burst, previous.tokens + elapsedSec * settings.refillPerSec);
  return { tokens, updatedAtMs: nowMs };
}
