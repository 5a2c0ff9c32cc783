/**
 * Worker-wide pacing of writes, so a throttled subscription is used near its refill rate instead of
 * bouncing off 429s. ARM meters writes with a token bucket (documented: 200 burst, 10/s refill per
 * subscription and region) and tells the remaining budget in `x-ms-ratelimit-remaining-subscription-writes`.
 * The pacer keeps its own estimate of that bucket, corrects it from every response, spaces writes at
 * the refill rate once the budget runs low, and after a 429 holds every write until Retry-After passes.
 *
 * `decidePacing` / `observePacing` are pure; `WritePacer` is the small async gate the writers await.
 */
import { headerValue, retryAfterInMs, type HeaderBag } from './throttling';

export interface PacingOptions {
  /** Bucket size assumed until the server says otherwise. @default 200 */
  burst?: number;
  /** Refill rate of the bucket. @default 10 */
  refillPerSecond?: number;
  /** Writes kept in reserve (for other clients of the subscription, clock skew). @default 2 */
  reserve?: number;
  /**
   * Header carrying the remaining budget; undefined when the service sends none (IoT Hub): then only
   * 429s are learnt from. @default 'x-ms-ratelimit-remaining-subscription-writes'
   */
  remainingHeader?: string;
  /**
   * Whether to assume the bucket limits before any header or 429 has been seen. @default true
   * (false for services without a remaining header, which then run unpaced until a 429).
   */
  assumeLimits?: boolean;
  /** Hold after a 429 without Retry-After. @default 1000 */
  defaultHoldInMs?: number;
  /**
   * Writes in flight before the first response has told the real budget (another process may have
   * used the bucket already). @default 8
   */
  probeConcurrency?: number;
}

export interface PacingState {
  /** Estimated writes left in the bucket at `updatedAtInMs` (negative: reserved ahead of refill). */
  tokens: number;
  updatedAtInMs: number;
  /** No write starts before this (set by a 429). */
  holdUntilInMs: number;
  /** Writes let through whose response has not been observed yet. */
  inFlight: number;
  /** Whether the pacer is limiting at all (limits assumed, a header seen, or a 429 seen). */
  active: boolean;
  /** Bucket size: the assumed burst, raised when the server reports more. */
  capacity: number;
  /** Whether a response has told the real budget yet. */
  learned: boolean;
}

type ResolvedPacingOptions = Required<Omit<PacingOptions, 'remainingHeader'>> & { remainingHeader?: string };

export function resolvePacingOptions(options: PacingOptions = {}): ResolvedPacingOptions {
  return {
    burst: options.burst ?? 200,
    refillPerSecond: options.refillPerSecond ?? 10,
    reserve: options.reserve ?? 2,
    assumeLimits: options.assumeLimits ?? true,
    defaultHoldInMs: options.defaultHoldInMs ?? 1000,
    probeConcurrency: options.probeConcurrency ?? 8,
    ...('remainingHeader' in options
      ? options.remainingHeader === undefined
        ? {}
        : { remainingHeader: options.remainingHeader }
      : { remainingHeader: 'x-ms-ratelimit-remaining-subscription-writes' }),
  };
}

export function initialPacingState(options: PacingOptions = {}, nowInMs = 0): PacingState {
  const o = resolvePacingOptions(options);
  return {
    tokens: o.burst,
    updatedAtInMs: nowInMs,
    holdUntilInMs: 0,
    inFlight: 0,
    active: o.assumeLimits,
    capacity: o.burst,
    learned: !o.assumeLimits,
  };
}

function refill(state: PacingState, nowInMs: number, o: ResolvedPacingOptions): PacingState {
  const elapsed = Math.max(0, nowInMs - state.updatedAtInMs);
  const tokens = Math.min(state.capacity, state.tokens + (elapsed * o.refillPerSecond) / 1000);
  return { ...state, tokens, updatedAtInMs: Math.max(nowInMs, state.updatedAtInMs) };
}

export interface PacingDecision {
  delayInMs: number;
  state: PacingState;
  /** False: nothing was reserved; ask again after the delay (waiting for the first response). */
  reserved: boolean;
}

/**
 * Reserves one write: returns how long to wait before sending it and the state after the reservation.
 * Writes beyond the budget are queued at the refill rate; nothing starts before a 429's hold ends.
 */
export function decidePacing(state: PacingState, nowInMs: number, options: PacingOptions = {}): PacingDecision {
  const o = resolvePacingOptions(options);
  const holdDelay = Math.max(0, state.holdUntilInMs - nowInMs);
  if (!state.active) {
    return { delayInMs: holdDelay, state: { ...state, inFlight: state.inFlight + 1 }, reserved: true };
  }
  if (!state.learned && state.inFlight >= o.probeConcurrency) {
    return { delayInMs: Math.max(holdDelay, 20), state, reserved: false };
  }
  // The bucket as it will be when the hold ends (it refills during the hold).
  const start = nowInMs + holdDelay;
  const filled = refill(state, start, o);
  const available = filled.tokens - o.reserve;
  // Queue behind earlier reservations: a deficit of n tokens takes n / rate seconds to refill.
  const bucketDelay = available >= 1 ? 0 : Math.ceil(((1 - available) * 1000) / o.refillPerSecond);
  return {
    delayInMs: holdDelay + bucketDelay,
    state: { ...filled, tokens: filled.tokens - 1, inFlight: filled.inFlight + 1 },
    reserved: true,
  };
}

export interface PacingObservation {
  statusCode: number;
  headers: HeaderBag;
}

/**
 * Learns from the response to a write let through by `decidePacing` (or from its failure: pass
 * undefined). The server's remaining budget, minus the other writes still in flight, replaces the
 * estimate; a 429 empties the bucket and holds everything until Retry-After.
 */
export function observePacing(
  state: PacingState,
  observation: PacingObservation | undefined,
  nowInMs: number,
  options: PacingOptions = {},
): PacingState {
  const o = resolvePacingOptions(options);
  let next = refill({ ...state, inFlight: Math.max(0, state.inFlight - 1) }, nowInMs, o);
  if (observation === undefined) return next;
  const remainingText = o.remainingHeader ? headerValue(observation.headers, o.remainingHeader) : undefined;
  const remaining = remainingText !== undefined && /^\d+$/.test(remainingText) ? Number(remainingText) : undefined;
  if (remaining !== undefined) {
    const capacity = Math.max(next.capacity, remaining);
    // Writes still in flight may already be counted by the server; subtracting them errs on the safe side.
    const estimate = remaining - next.inFlight;
    next = { ...next, active: true, learned: true, capacity, tokens: Math.min(estimate, capacity) };
  }
  if (observation.statusCode === 429) {
    const wait = retryAfterInMs(observation.headers, nowInMs) ?? o.defaultHoldInMs;
    next = {
      ...next,
      active: true,
      learned: true,
      tokens: Math.min(next.tokens, 0),
      holdUntilInMs: Math.max(next.holdUntilInMs, nowInMs + wait),
    };
  }
  return next;
}

export interface WritePacerOptions extends PacingOptions {
  /** @default Date.now */
  now?: () => number;
  /** @default a timer that honours the abort signal */
  sleep?: (ms: number, abortSignal?: AbortSignal) => Promise<void>;
}

/** Sleeps, rejecting with the signal's reason when it aborts. */
export function abortableSleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  if (ms <= 0) return abortSignal?.aborted ? Promise.reject(abortSignal.reason) : Promise.resolve();
  return new Promise((resolve, reject) => {
    if (abortSignal?.aborted) {
      reject(abortSignal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortSignal?.reason);
    };
    const timer = setTimeout(() => {
      abortSignal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    abortSignal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One per worker and bucket (ARM writes, IoT Hub twin updates): every writer awaits `acquire` before a write. */
export class WritePacer {
  private state: PacingState;
  private readonly now: () => number;
  private readonly sleep: (ms: number, abortSignal?: AbortSignal) => Promise<void>;

  constructor(private readonly options: WritePacerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? abortableSleep;
    this.state = initialPacingState(options, this.now());
  }

  /** Waits for this write's turn. Call `release` with the response (or undefined on a failure) exactly once. */
  async acquire(abortSignal?: AbortSignal): Promise<void> {
    let decision = decidePacing(this.state, this.now(), this.options);
    while (!decision.reserved) {
      await this.sleep(decision.delayInMs, abortSignal);
      decision = decidePacing(this.state, this.now(), this.options);
    }
    this.state = decision.state;
    try {
      await this.sleep(decision.delayInMs, abortSignal);
      // A 429 seen while this write waited holds it too.
      for (let i = 0; i < 5; i++) {
        const hold = this.state.holdUntilInMs - this.now();
        if (hold <= 0) break;
        await this.sleep(hold, abortSignal);
      }
    } catch (error) {
      this.state = observePacing(this.state, undefined, this.now(), this.options);
      throw error;
    }
  }

  release(observation: PacingObservation | undefined): void {
    this.state = observePacing(this.state, observation, this.now(), this.options);
  }

  /** For tests and metrics. */
  snapshot(): Readonly<PacingState> {
    return this.state;
  }
}
