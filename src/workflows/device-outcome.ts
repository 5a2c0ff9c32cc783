/**
 * What one device's applySecurityPolicy came to, as a DeviceOutcome. Pure; sandbox-safe.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  RetryState,
  TemporalFailure,
  TimeoutFailure,
} from '@temporalio/common';
import type { ApplyPolicyResult, AttemptCounters } from '../domain/activity-contract';
import {
  asFailureCode,
  NON_RETRYABLE_FAILURE_TYPES,
  OutcomeCode,
  type FailureCode,
} from '../domain/failure-codes';
import { finalFailureMessage } from './final-failure';
import type { DeviceOutcome } from './types';

/** Failure messages are cut to this length: the summary stays small, and no stack enters it. */
export const MAX_FAILURE_MESSAGE_LENGTH = 300;

export function outcomeFromResult(
  deviceId: string,
  result: ApplyPolicyResult,
  completedAt: string,
): DeviceOutcome {
  return {
    deviceId,
    status: result.status,
    attempts: result.attempts,
    authErrors: result.authErrors,
    throttled: result.throttled,
    completedAt,
  };
}

/**
 * The outcome of a device whose activity finally failed. The activity puts AttemptCounters in the
 * ApplicationFailure's details[0] (or its last heartbeat, for timeouts); without them, attempts are
 * inferred from the retry state.
 */
export function outcomeFromFailure(
  deviceId: string,
  error: unknown,
  maximumAttempts: number,
  /** The local first attempt's counters when the durable activity took over: the outcome counts no less. */
  prior?: AttemptCounters,
): DeviceOutcome {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  let code: FailureCode;
  let counters: Partial<AttemptCounters> | undefined;
  if (cause instanceof ApplicationFailure) {
    code = asFailureCode(cause.type);
    counters = attemptCountersOf(cause.details?.[0]);
  } else if (cause instanceof TimeoutFailure) {
    code = OutcomeCode.Timeout;
    counters = attemptCountersOf(cause.lastHeartbeatDetails);
  } else if (cause instanceof CancelledFailure) {
    code = OutcomeCode.Cancelled;
  } else {
    code = asFailureCode(cause instanceof TemporalFailure ? cause.name : undefined);
  }
  const inferredAttempts =
    error instanceof ActivityFailure && error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED
      ? maximumAttempts
      : 1;
  // A durable failure without counters (timeouts without a heartbeat) still counts the local attempt before it.
  const attempts = Math.max(counters?.attempts ?? inferredAttempts, prior ? prior.attempts + 1 : 0);
  return {
    deviceId,
    status: 'failed',
    attempts,
    authErrors: Math.max(counters?.authErrors ?? 0, prior?.authErrors ?? 0),
    throttled: Math.max(counters?.throttled ?? 0, prior?.throttled ?? 0),
    code,
    // The device's final outcome: its retries are over, whatever the last attempt's message said.
    message: sanitizeMessage(finalFailureMessage(messageOf(cause) || messageOf(error), attempts)),
  };
}

/** Where the durable activity takes over after a failed local first attempt. */
export interface DurableRetry {
  /** The local attempt's counters, handed to the activity as `prior`. */
  prior: AttemptCounters;
  /** How long to wait first: the failure's nextRetryDelay (Retry-After or jittered backoff). */
  delayInMs: number;
}

/**
 * Whether a failed local first attempt deserves the durable activity's retries, and after how long; undefined
 * when it does not (a failure no retry heals, or cancellation). Mirrors the retry policy's nonRetryableErrorTypes.
 */
export function durableRetryAfterLocalAttempt(
  error: unknown,
  fallbackDelayInMs: number,
): DurableRetry | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof CancelledFailure) return undefined;
  let details: unknown;
  if (cause instanceof ApplicationFailure) {
    if (cause.nonRetryable || NON_RETRYABLE_FAILURE_TYPES.some((type) => type === cause.type))
      return undefined;
    details = cause.details?.[0];
  }
  const counters = attemptCountersOf(details);
  const record = (typeof details === 'object' && details !== null ? details : {}) as Record<string, unknown>;
  const delay = record.nextRetryDelayInMs;
  return {
    prior: {
      attempts: counters?.attempts ?? 1,
      authErrors: counters?.authErrors ?? 0,
      throttled: counters?.throttled ?? 0,
      ...(counters?.unsure ? { unsure: counters.unsure } : {}),
    },
    delayInMs: typeof delay === 'number' && Number.isFinite(delay) && delay >= 0 ? delay : fallbackDelayInMs,
  };
}

/** A device that was never attempted. */
export function failedWithoutAttempt(deviceId: string, code: OutcomeCode, message: string): DeviceOutcome {
  return { deviceId, status: 'failed', attempts: 0, authErrors: 0, throttled: 0, code, message };
}

/**
 * Counters from a failure's details[0], or from the last heartbeat (the activity heartbeats
 * `{ authErrors, throttled }` to carry them across attempts). Fields that are missing stay undefined.
 */
function attemptCountersOf(value: unknown): Partial<AttemptCounters> | undefined {
  // Heartbeat details may arrive as the list of values given to heartbeat().
  const candidate: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const record = candidate as Record<string, unknown>;
  const count = (field: unknown) => (typeof field === 'number' && Number.isFinite(field) ? field : undefined);
  const counters = {
    attempts: count(record.attempts),
    authErrors: count(record.authErrors),
    throttled: count(record.throttled),
    unsure: count(record.unsure),
  };
  return Object.values(counters).some((field) => field !== undefined) ? counters : undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : '';
}

/**
 * One line, no stack, no bearer token or JWT-looking string, at most MAX_FAILURE_MESSAGE_LENGTH characters.
 * The activities already redact; this is the workflow's own guard, since whatever it returns stays in history.
 */
export function sanitizeMessage(message: string): string {
  const firstLine = (message.split('\n')[0] ?? '').trim();
  const redacted = firstLine
    .replace(/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [redacted]')
    .replace(/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]')
    .replace(/(client_secret|password|sig|secret)=([^&\s]+)/gi, '$1=[redacted]');
  return redacted.length > MAX_FAILURE_MESSAGE_LENGTH
    ? `${redacted.slice(0, MAX_FAILURE_MESSAGE_LENGTH - 1)}…`
    : redacted;
}

/** Whether a local first attempt failed held at the hub's authorization gate, having sent nothing. */
export function heldAtGate(error: unknown): boolean {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure)) return false;
  const details: unknown = cause.details?.[0];
  return (
    typeof details === 'object' &&
    details !== null &&
    (details as { heldAtGate?: unknown }).heldAtGate === true
  );
}
