/**
 * A hub-wide authorization gate. While a role assignment propagates, Azure's authorization caches converge
 * replica by replica and refuse a share of the calls with 403 AuthorizationFailed. A worker that sends every
 * device's request anyway spends the subscription's request budget on refusals (and on fresh tokens). The gate
 * lets a few probe requests through instead; each probe that Azure allows lets `successAdmits` more go (slow
 * start), so the fan-out is back to full speed within a few round trips once the refusals fade.
 *
 * - `open`: every request goes. When most recent answers are refusals (at least `closeRefusedShare` of at least
 *   `minSamples` answers within `sampleWindowInMs`, the latest `maxSamples` of them), the gate starts probing.
 * - `probing`: a request needs a credit. Every `probeIntervalInMs` the credit is topped up to
 *   `probesPerInterval`; an allowed answer adds `successAdmits`; other answers (429, 5xx, no answer) give back
 *   the credit they took. The gate opens after `openAfterAllowed` allowed answers in a row, or when the credit
 *   reaches `openCredit`. A request waits at most its own `maxWaitInMs` and then goes anyway (as a probe).
 * - After `idleResetInMs` without a request the gate probes again: after a silence the worker no longer knows
 *   whether the hub authorizes it, and a start of a few requests costs a calm hub a few round trips.
 *
 * With `successAdmits` 3 the credit grows while more than a third of the probes are allowed, which is where
 * sending every request costs less than 3 requests per success; below that the refusals are paced at about
 * `probesPerInterval` per interval. An open gate closes only at 80% refusals, so that it does not flap at the
 * two-thirds mark on a short run of refusals. `decideAdmission` / `observeAnswer` are pure; `AuthorizationGate` queues.
 */
import { FailureType } from '../domain/failure-codes';
import { AzureRequestError, classifyAzureError, type ClassifyContext } from './errors';
import type { HttpResponse } from './http';

export interface AuthorizationGateOptions {
  /** @default 125 */
  probeIntervalInMs?: number;
  /** @default 1 */
  probesPerInterval?: number;
  /** Requests one allowed answer lets through while probing. @default 3 */
  successAdmits?: number;
  /** @default 8 */
  openAfterAllowed?: number;
  /** @default 64 */
  openCredit?: number;
  /** @default 0.8 */
  closeRefusedShare?: number;
  /** @default 20 */
  minSamples?: number;
  /** The share of refusals is taken over at most this many of the latest answers. @default 50 */
  maxSamples?: number;
  /** @default 2000 */
  sampleWindowInMs?: number;
  /** @default 60000 */
  idleResetInMs?: number;
  /** The longest a request waits for a credit, unless the caller says otherwise. @default 20000 */
  maxWaitInMs?: number;
  now?: () => number;
}

export type GateMode = 'open' | 'probing';

/** What Azure made of a request the gate let through. */
export type GateAnswer = 'allowed' | 'refused' | 'other';

export interface GateState {
  mode: GateMode;
  credit: number;
  /** When the credit was last topped up (probing). */
  refilledAtInMs: number;
  /** Recent answers that carried an authorization verdict: time and whether it was a refusal. */
  recent: { atInMs: number; refused: boolean }[];
  allowedInARow: number;
  lastRequestAtInMs: number;
}

type Resolved = Required<Omit<AuthorizationGateOptions, 'now'>>;

function resolve(options: AuthorizationGateOptions): Resolved {
  return {
    probeIntervalInMs: options.probeIntervalInMs ?? 125,
    probesPerInterval: options.probesPerInterval ?? 1,
    successAdmits: options.successAdmits ?? 3,
    openAfterAllowed: options.openAfterAllowed ?? 8,
    openCredit: options.openCredit ?? 64,
    closeRefusedShare: options.closeRefusedShare ?? 0.8,
    minSamples: options.minSamples ?? 20,
    maxSamples: Math.max(options.maxSamples ?? 50, options.minSamples ?? 20, 1),
    sampleWindowInMs: options.sampleWindowInMs ?? 2_000,
    idleResetInMs: options.idleResetInMs ?? 60_000,
    maxWaitInMs: options.maxWaitInMs ?? 20_000,
  };
}

/** A gate that has seen nothing: probing, as after an idle period. */
export function initialGateState(options: AuthorizationGateOptions, nowInMs: number): GateState {
  return probingState(resolve(options), nowInMs, nowInMs);
}

function probingState(o: Resolved, nowInMs: number, lastRequestAtInMs: number): GateState {
  return {
    mode: 'probing',
    credit: o.probesPerInterval,
    refilledAtInMs: nowInMs,
    recent: [],
    allowedInARow: 0,
    lastRequestAtInMs,
  };
}

/**
 * Whether one more request may go now; the state after it (credit spent, top-up applied). `waitInMs`: when a
 * credit is due next (the next top-up), if it may not.
 */
export function decideAdmission(
  state: GateState,
  nowInMs: number,
  options: AuthorizationGateOptions = {},
): { admit: boolean; state: GateState; waitInMs: number } {
  const o = resolve(options);
  let next = state;
  if (next.mode === 'open' && nowInMs - next.lastRequestAtInMs > o.idleResetInMs) {
    next = probingState(o, nowInMs, next.lastRequestAtInMs);
  }
  if (next.mode === 'open')
    return { admit: true, state: { ...next, lastRequestAtInMs: nowInMs }, waitInMs: 0 };
  if (nowInMs - next.refilledAtInMs >= o.probeIntervalInMs) {
    next = { ...next, credit: Math.max(next.credit, o.probesPerInterval), refilledAtInMs: nowInMs };
  }
  if (next.credit >= 1) {
    return {
      admit: true,
      state: { ...next, credit: next.credit - 1, lastRequestAtInMs: nowInMs },
      waitInMs: 0,
    };
  }
  return {
    admit: false,
    state: next,
    waitInMs: Math.max(1, next.refilledAtInMs + o.probeIntervalInMs - nowInMs),
  };
}

/** The state after an answer to a request the gate let through. */
export function observeAnswer(
  state: GateState,
  answer: GateAnswer,
  nowInMs: number,
  options: AuthorizationGateOptions = {},
): GateState {
  const o = resolve(options);
  if (answer === 'other') {
    return state.mode === 'probing' ? { ...state, credit: state.credit + 1 } : state;
  }
  const refused = answer === 'refused';
  // The last answers within the window, at most maxSamples of them (a burst of hundreds of answers would
  // otherwise copy hundreds of entries per answer).
  const kept = state.recent.slice(Math.max(0, state.recent.length - (o.maxSamples - 1)));
  const recent = [...kept, { atInMs: nowInMs, refused }].filter(
    (entry) => nowInMs - entry.atInMs <= o.sampleWindowInMs,
  );
  const allowedInARow = refused ? 0 : state.allowedInARow + 1;
  if (state.mode === 'open') {
    const refusals = recent.filter((entry) => entry.refused).length;
    if (recent.length >= o.minSamples && refusals >= o.closeRefusedShare * recent.length) {
      return { ...probingState(o, nowInMs, state.lastRequestAtInMs), recent };
    }
    return { ...state, recent, allowedInARow };
  }
  const credit = state.credit + (refused ? 0 : o.successAdmits);
  if (allowedInARow >= o.openAfterAllowed || credit >= o.openCredit) {
    return { ...state, mode: 'open', credit: 0, recent: [], allowedInARow };
  }
  return { ...state, credit, recent, allowedInARow };
}

/** A request that waited its longest at a probing gate, for a caller that would rather hand it on than send it. */
export class GateHeldError extends Error {
  override readonly name = 'GateHeldError';
  readonly code = 'GateHeld';
  constructor(readonly waitedInMs: number) {
    super(
      `held ${waitedInMs} ms at the hub's authorization gate: most requests are refused while a grant settles`,
    );
  }
}

/** The `azureCode` of the Throttled error a request held at the gate fails with: nothing was sent. */
export const GATE_HELD = 'GateHeld';

/** How long a request waits at a probing gate, and what happens then. */
export interface GateWait {
  /** @default the gate's `maxWaitInMs` */
  maxWaitInMs?: number;
  /** Then go anyway, as a probe (default), or reject with GateHeldError without sending. */
  thenGiveUp?: boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  deadlineInMs: number;
  startedAtInMs: number;
  thenGiveUp: boolean;
  abortSignal?: AbortSignal;
  onAbort?: () => void;
}

/** The gate of one authorization scope (a hub on one target); share one per worker. */
export class AuthorizationGate {
  private state: GateState;
  private readonly now: () => number;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly counters = { admitted: 0, waited: 0, waitedOut: 0 };

  constructor(private readonly options: AuthorizationGateOptions = {}) {
    this.now = options.now ?? Date.now;
    this.state = initialGateState(options, this.now());
  }

  /**
   * Resolves when a request may be sent: at once while open, else with a credit, or after the longest wait
   * (`wait.thenGiveUp`: rejects with GateHeldError then).
   */
  admit(abortSignal?: AbortSignal, wait: GateWait = {}): Promise<void> {
    if (abortSignal?.aborted) return Promise.reject(abortSignal.reason);
    if (this.queue.length === 0 && this.tryAdmit()) return Promise.resolve();
    this.counters.waited += 1;
    return new Promise<void>((resolve, reject) => {
      const startedAtInMs = this.now();
      const waiter: Waiter = {
        resolve,
        reject,
        startedAtInMs,
        thenGiveUp: wait.thenGiveUp === true,
        deadlineInMs: startedAtInMs + (wait.maxWaitInMs ?? this.options.maxWaitInMs ?? 20_000),
        ...(abortSignal ? { abortSignal } : {}),
      };
      if (abortSignal) {
        waiter.onAbort = () => {
          this.remove(waiter);
          reject(abortSignal.reason);
        };
        abortSignal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** What Azure answered to a request `admit` let through. */
  settle(answer: GateAnswer): void {
    this.state = observeAnswer(this.state, answer, this.now(), this.options);
    if (this.queue.length > 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.pump();
    }
  }

  /** Whether the gate is holding requests back (a 403 now is expected, and the gate paces the retries). */
  isProbing(): boolean {
    return this.state.mode === 'probing';
  }

  /** For tests, logs and metrics. */
  snapshot(): Readonly<{ mode: GateMode; credit: number; waiting: number } & typeof this.counters> {
    return { mode: this.state.mode, credit: this.state.credit, waiting: this.queue.length, ...this.counters };
  }

  private tryAdmit(): boolean {
    const decision = decideAdmission(this.state, this.now(), this.options);
    this.state = decision.state;
    if (decision.admit) this.counters.admitted += 1;
    return decision.admit;
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    const nowInMs = this.now();
    // A request that waited its longest goes anyway, wherever it stands in the queue.
    for (const waiter of this.queue.filter((w) => nowInMs >= w.deadlineInMs)) {
      this.counters.waitedOut += 1;
      this.remove(waiter);
      if (waiter.thenGiveUp) {
        this.detach(waiter);
        waiter.reject(new GateHeldError(nowInMs - waiter.startedAtInMs));
      } else this.release(waiter);
    }
    while (this.queue.length > 0 && this.tryAdmit()) this.release(this.queue.shift()!);
    if (this.queue.length === 0) return;
    const { waitInMs } = decideAdmission(this.state, nowInMs, this.options);
    const earliestDeadline = Math.min(...this.queue.map((w) => w.deadlineInMs));
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(1, Math.min(waitInMs, earliestDeadline - nowInMs)),
    );
    this.timer.unref?.();
  }

  private release(waiter: Waiter): void {
    this.detach(waiter);
    waiter.resolve();
  }

  private detach(waiter: Waiter): void {
    if (waiter.abortSignal && waiter.onAbort) waiter.abortSignal.removeEventListener('abort', waiter.onAbort);
  }

  private remove(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter);
    if (at >= 0) this.queue.splice(at, 1);
  }
}

/**
 * The gate's reading of an answer: an RBAC refusal (403 AuthorizationFailed, IoT Hub's permission 401) is
 * 'refused'; no answer, throttling, a server error or another refusal (a token challenge, a policy deny) tells
 * nothing about the grant; any other answer passed authorization.
 */
export function gateAnswerOf(response: HttpResponse | undefined, context: ClassifyContext): GateAnswer {
  if (!response) return 'other';
  const status = response.statusCode;
  if (status === 401 || status === 403) {
    return classifyAzureError(response, context).code === FailureType.AuthorizationFailed
      ? 'refused'
      : 'other';
  }
  return status === 429 || status >= 500 ? 'other' : 'allowed';
}

/** Sends through the gate (when there is one) and tells it the answer. */
export async function sendThroughGate<T extends HttpResponse>(
  gate: AuthorizationGate | undefined,
  options: { context: ClassifyContext; abortSignal?: AbortSignal; wait?: GateWait },
  send: () => Promise<T>,
): Promise<T> {
  if (!gate) return send();
  try {
    await gate.admit(options.abortSignal, options.wait);
  } catch (error) {
    if (!(error instanceof GateHeldError)) throw error;
    throw new AzureRequestError({
      code: FailureType.Throttled,
      azureCode: GATE_HELD,
      ...(options.context.deviceId === undefined ? {} : { deviceId: options.context.deviceId }),
      retryAfterInMs: 250,
      message: `Nothing was sent for ${options.context.operation}${
        options.context.deviceId === undefined ? '' : ` of device '${options.context.deviceId}'`
      }: ${error.message}; handed on to a durable attempt.`,
    });
  }
  let response: T | undefined;
  try {
    response = await send();
    return response;
  } finally {
    gate.settle(gateAnswerOf(response, options.context));
  }
}
