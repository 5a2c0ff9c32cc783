/**
 * Worker-wide pacing of writes, so a throttled subscription is used near its refill rate instead of
 * bouncing off 429s. ARM meters writes with a token bucket (documented: 200 burst, 10/s refill per
 * subscription and region) and tells the remaining budget in `x-ms-ratelimit-remaining-subscription-writes`.
 * The pacer keeps its own estimate of that bucket, corrects it from every response, lets writes through
 * one at a time while the estimate allows (which spaces them at the refill rate once the budget runs
 * low), and after a 429 holds every write until Retry-After passes.
 *
 * A service that tells no remaining budget (IoT Hub) is paced blind, at a rate below its documented one,
 * and with `adaptive` the rate adapts to the 429s the pacer still gets (AIMD: cut by a factor at a 429,
 * regained linearly over time), for when the documented rate is not the hub's (fewer units, another client).
 *
 * `decidePacing` / `observePacing` are pure; `WritePacer` is the small FIFO gate the writers await.
 */
import { FailureType } from '../domain/failure-codes';
import { AzureRequestError } from './errors';
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
   * (false: unpaced until a 429; a service without a remaining header is better paced blind below its
   * documented rate, see twin-pacing.ts).
   */
  assumeLimits?: boolean;
  /** Hold after a 429 without Retry-After. @default 1000 */
  defaultHoldInMs?: number;
  /**
   * Writes in flight before the first response has told the real budget (another process may have
   * used the bucket already). @default 8
   */
  probeConcurrency?: number;
  /**
   * Adapt the rate to 429s (AIMD): each 429 that arrives outside a hold multiplies the rate by
   * `decreaseFactor` (not below `minFactor` of `refillPerSecond`); the rate then grows back by
   * `recoveryPerSecond` of `refillPerSecond` per second, up to `refillPerSecond`. Off by default: ARM's
   * headers tell the budget exactly.
   */
  adaptive?: AdaptivePacingOptions | false;
}

export interface AdaptivePacingOptions {
  /** @default 0.7 */
  decreaseFactor?: number;
  /** @default 0.02 (from 70% back to 100% in 15 s) */
  recoveryPerSecond?: number;
  /** @default 0.1 */
  minFactor?: number;
}

export interface PacingState {
  /**
   * Estimated tokens in the server's bucket, minus the writes sent but not answered yet. Never more
   * than `capacity - sent`: a bucket cannot hold more than its size, however long requests take to arrive.
   */
  tokens: number;
  updatedAtInMs: number;
  /** No write starts before this (set by a 429). */
  holdUntilInMs: number;
  /** Writes let through whose response has not been observed yet. */
  sent: number;
  /** Whether the pacer is limiting at all (limits assumed, a header seen, or a 429 seen). */
  active: boolean;
  /** Bucket size: the assumed burst, raised when the server reports more. */
  capacity: number;
  /** Whether a response has told the real budget yet. */
  learned: boolean;
  /** The share of `refillPerSecond` currently paced at: 1 unless `adaptive` lowered it after a 429. */
  rateFactor: number;
}

type ResolvedPacingOptions = Required<Omit<PacingOptions, 'remainingHeader' | 'adaptive'>> & {
  remainingHeader?: string;
  adaptive: Required<AdaptivePacingOptions> | undefined;
};

export function resolvePacingOptions(options: PacingOptions = {}): ResolvedPacingOptions {
  return {
    burst: options.burst ?? 200,
    refillPerSecond: options.refillPerSecond ?? 10,
    reserve: options.reserve ?? 2,
    assumeLimits: options.assumeLimits ?? true,
    defaultHoldInMs: options.defaultHoldInMs ?? 1000,
    probeConcurrency: options.probeConcurrency ?? 8,
    adaptive: options.adaptive
      ? {
          decreaseFactor: options.adaptive.decreaseFactor ?? 0.7,
          recoveryPerSecond: options.adaptive.recoveryPerSecond ?? 0.02,
          minFactor: options.adaptive.minFactor ?? 0.1,
        }
      : undefined,
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
    sent: 0,
    active: o.assumeLimits,
    capacity: o.burst,
    // Without a remaining header there is nothing to learn before letting the burst out.
    learned: !o.assumeLimits || o.remainingHeader === undefined,
    rateFactor: 1,
  };
}

/** Writes per second the pacer currently allows. Pure. */
export function pacedRatePerSecond(state: PacingState, options: PacingOptions = {}): number {
  return resolvePacingOptions(options).refillPerSecond * state.rateFactor;
}

/**
 * The rate factor `elapsedInMs` later: regained linearly, at most 1. Time spent holding after a 429 does
 * not count (the caller passes only the time since the hold ended). Pure.
 */
export function recoveredRateFactor(
  rateFactor: number,
  elapsedInMs: number,
  adaptive: Pick<Required<AdaptivePacingOptions>, 'recoveryPerSecond'>,
): number {
  return Math.min(1, rateFactor + (Math.max(0, elapsedInMs) * adaptive.recoveryPerSecond) / 1000);
}

/** The rate factor after a 429 that starts a new hold. Pure. */
export function decreasedRateFactor(
  rateFactor: number,
  adaptive: Pick<Required<AdaptivePacingOptions>, 'decreaseFactor' | 'minFactor'>,
): number {
  return Math.max(adaptive.minFactor, rateFactor * adaptive.decreaseFactor);
}

function refill(state: PacingState, nowInMs: number, o: ResolvedPacingOptions): PacingState {
  const elapsed = Math.max(0, nowInMs - state.updatedAtInMs);
  const ceiling = state.capacity - state.sent;
  const tokens = Math.max(
    state.tokens,
    Math.min(ceiling, state.tokens + (elapsed * o.refillPerSecond * state.rateFactor) / 1000),
  );
  const rateFactor =
    o.adaptive && state.rateFactor < 1
      ? recoveredRateFactor(
          state.rateFactor,
          nowInMs - Math.max(state.updatedAtInMs, state.holdUntilInMs),
          o.adaptive,
        )
      : state.rateFactor;
  return { ...state, tokens, rateFactor, updatedAtInMs: Math.max(nowInMs, state.updatedAtInMs) };
}

export type PacingDecision =
  { release: true; state: PacingState } | { release: false; state: PacingState; waitInMs: number };

/** Whether the next write may go now; if not, how long until it is worth asking again. Pure. */
export function decidePacing(
  state: PacingState,
  nowInMs: number,
  options: PacingOptions = {},
): PacingDecision {
  const o = resolvePacingOptions(options);
  if (nowInMs < state.holdUntilInMs)
    return { release: false, state, waitInMs: state.holdUntilInMs - nowInMs };
  if (!state.active) return { release: true, state: { ...state, sent: state.sent + 1 } };
  if (!state.learned && state.sent >= o.probeConcurrency) return { release: false, state, waitInMs: 20 };
  const filled = refill(state, nowInMs, o);
  const available = filled.tokens - o.reserve;
  if (available >= 1) {
    return { release: true, state: { ...filled, tokens: filled.tokens - 1, sent: filled.sent + 1 } };
  }
  // Until one token has refilled, or (when the ceiling of sent writes binds) a response frees room.
  const waitInMs = Math.max(5, Math.ceil(((1 - available) * 1000) / (o.refillPerSecond * filled.rateFactor)));
  return { release: false, state: filled, waitInMs };
}

export interface PacingObservation {
  statusCode: number;
  headers: HeaderBag;
}

/**
 * Learns from the response to a write let through by `decidePacing` (or from its failure: pass
 * undefined). The server's remaining budget (from a 2xx, 429 or other metered 4xx answer), minus the other
 * writes still in flight, replaces the estimate; a 429 empties the bucket and holds everything until
 * Retry-After.
 */
export function observePacing(
  state: PacingState,
  observation: PacingObservation | undefined,
  nowInMs: number,
  options: PacingOptions = {},
): PacingState {
  const o = resolvePacingOptions(options);
  let next = refill({ ...state, sent: Math.max(0, state.sent - 1) }, nowInMs, o);
  if (observation === undefined) return next;
  // Only an answer that went through the caller's throttling speaks for the caller's bucket. A 5xx may come
  // from a gateway or another instance before authentication, a 401 before throttling: their counts (if
  // any) are not this principal's, and trusting them once let a full-bucket burst through into 429s.
  const metered = observation.statusCode < 500 && observation.statusCode !== 401;
  const remainingText =
    o.remainingHeader && metered ? headerValue(observation.headers, o.remainingHeader) : undefined;
  const remaining =
    remainingText !== undefined && /^\d+$/.test(remainingText) ? Number(remainingText) : undefined;
  if (remaining !== undefined) {
    const capacity = Math.max(next.capacity, remaining);
    // Writes still in flight may already be counted by the server; subtracting them errs on the safe side.
    next = {
      ...next,
      active: true,
      learned: true,
      capacity,
      tokens: Math.min(remaining, capacity) - next.sent,
    };
  }
  if (observation.statusCode === 429) {
    const wait = retryAfterInMs(observation.headers, nowInMs) ?? o.defaultHoldInMs;
    // The writes that were in flight when the first 429 came back get theirs during the hold: one
    // congestion event, one cut.
    const newHold = nowInMs >= state.holdUntilInMs;
    next = {
      ...next,
      active: true,
      learned: true,
      tokens: Math.min(next.tokens, 0),
      holdUntilInMs: Math.max(next.holdUntilInMs, nowInMs + wait),
      rateFactor: o.adaptive && newHold ? decreasedRateFactor(next.rateFactor, o.adaptive) : next.rateFactor,
    };
  }
  return next;
}

export interface WritePacerOptions extends PacingOptions {
  /** @default Date.now */
  now?: () => number;
  /**
   * Refuse to queue a write that would wait longer than this (at the refill rate) — better a quick
   * retry later than an activity that times out in the queue. @default 25000
   */
  maxQueueWaitInMs?: number;
}

/** Thrown by `WritePacer.acquire` when the queue is longer than `maxQueueWaitInMs` allows. */
export class PacerQueueFullError extends Error {
  override readonly name = 'PacerQueueFullError';
  readonly code = 'PacerQueueFull';
  constructor(
    readonly queued: number,
    /** When the queue will have drained, at the refill rate. */
    readonly retryAfterInMs: number,
  ) {
    super(
      `${queued} writes are already waiting for the rate limit; retry in ${Math.ceil(retryAfterInMs / 1000)} s`,
    );
  }
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

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  abortSignal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * One per worker and bucket (ARM writes, ARM reads, IoT Hub twin updates). Writers `await acquire()`
 * before a request and `release(response)` after it, exactly once. Waiters are served in order.
 */
export class WritePacer {
  private state: PacingState;
  private readonly now: () => number;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WritePacerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.state = initialPacingState(options, this.now());
  }

  /** Resolves when this request may be sent. */
  acquire(abortSignal?: AbortSignal): Promise<void> {
    if (abortSignal?.aborted) return Promise.reject(abortSignal.reason);
    const rate = pacedRatePerSecond(this.state, this.options);
    const queueWaitInMs = ((this.queue.length + 1) * 1000) / rate;
    if (
      this.state.active &&
      this.queue.length > 0 &&
      queueWaitInMs > (this.options.maxQueueWaitInMs ?? 25_000)
    ) {
      return Promise.reject(new PacerQueueFullError(this.queue.length, Math.ceil(queueWaitInMs)));
    }
    if (this.queue.length === 0) {
      const decision = decidePacing(this.state, this.now(), this.options);
      this.state = decision.state;
      if (decision.release) return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, ...(abortSignal ? { abortSignal } : {}) };
      if (abortSignal) {
        waiter.onAbort = () => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) this.queue.splice(at, 1);
          reject(abortSignal.reason);
        };
        abortSignal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** Tells the pacer what the request let through came to (undefined: it failed without a response). */
  release(observation: PacingObservation | undefined): void {
    this.state = observePacing(this.state, observation, this.now(), this.options);
    if (this.queue.length > 0) {
      // A response may have freed room: decide again now rather than at the planned wake-up.
      clearTimeout(this.timer);
      this.timer = undefined;
      this.pump();
    }
  }

  /** For tests and metrics. */
  snapshot(): Readonly<PacingState & { waiting: number }> {
    return { ...this.state, waiting: this.queue.length };
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    while (this.queue.length > 0) {
      const decision = decidePacing(this.state, this.now(), this.options);
      this.state = decision.state;
      if (!decision.release) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, decision.waitInMs);
        return;
      }
      const waiter = this.queue.shift();
      if (!waiter) return;
      if (waiter.abortSignal && waiter.onAbort)
        waiter.abortSignal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
  }
}

/** `pacer.acquire`, with a full queue turned into a Throttled AzureRequestError (retried after the queue drains). */
export async function acquireOrThrottle(
  pacer: WritePacer,
  abortSignal: AbortSignal | undefined,
  deviceId: string,
): Promise<void> {
  try {
    await pacer.acquire(abortSignal);
  } catch (error) {
    if (!(error instanceof PacerQueueFullError)) throw error;
    throw new AzureRequestError({
      code: FailureType.Throttled,
      deviceId,
      retryAfterInMs: error.retryAfterInMs,
      message:
        `Device '${deviceId}' was not written: ${error.queued} writes of this worker are already queued to stay ` +
        `under Azure's rate limit; will retry after ${Math.ceil(error.retryAfterInMs / 1000)} s.`,
    });
  }
}
