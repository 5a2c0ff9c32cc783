/**
 * How device outcomes add up to the sync's counters and metrics. Pure; sandbox-safe.
 *
 * The counters count device writes planned by the sync: every inventory device once, plus devices a rerun
 * queued again that had not failed. A failed device queued again by a rerun is taken off the books
 * (`uncountFailures`) and counted afresh by its new outcome, so that at the end
 * `devicesTotal = successCount + unchangedCount + failureCount = devicesDone`.
 */
import type {
  AlertRecord,
  DeviceFailure,
  DeviceOutcome,
  RetryingTally,
  SyncCounters,
  SyncMetrics,
  SyncPhase,
} from './types';
import type { ObservedVerdict } from './device-backlog';

export function emptyCounters(): SyncCounters {
  return {
    devicesTotal: 0,
    devicesDone: 0,
    successCount: 0,
    failureCount: 0,
    unchangedCount: 0,
    drifted: 0,
    authErrors: 0,
    throttledCount: 0,
    retriedCount: 0,
    writeAttempts: 0,
    lastSuccessTime: null,
  };
}

/** Adds one device's final outcome. `retriedCount` counts devices that needed more than one attempt. */
export function countOutcome(counters: SyncCounters, outcome: DeviceOutcome): SyncCounters {
  const next: SyncCounters = {
    ...counters,
    devicesDone: counters.devicesDone + 1,
    authErrors: counters.authErrors + outcome.authErrors,
    throttledCount: counters.throttledCount + outcome.throttled,
    retriedCount: counters.retriedCount + (outcome.attempts > 1 ? 1 : 0),
    writeAttempts: counters.writeAttempts + outcome.attempts,
  };
  switch (outcome.status) {
    case 'succeeded':
      next.successCount += 1;
      break;
    case 'unchanged':
      next.unchangedCount += 1;
      break;
    case 'failed':
      next.failureCount += 1;
      break;
  }
  const completedAt = outcome.status === 'failed' ? undefined : outcome.completedAt;
  if (completedAt && (next.lastSuccessTime === null || completedAt > next.lastSuccessTime))
    next.lastSuccessTime = completedAt;
  return next;
}

/** The failure record of an outcome, or undefined when it did not fail. */
export function failureOf(outcome: DeviceOutcome): DeviceFailure | undefined {
  if (outcome.status !== 'failed') return undefined;
  return {
    deviceId: outcome.deviceId,
    code: outcome.code ?? 'Error',
    message: outcome.message ?? '',
    attempts: outcome.attempts,
  };
}

/**
 * Devices of an inventory page that held exactly their policy when the fleet was observed: done and unchanged
 * without a write (their planned write is not needed). `at`: when the sync counted them (workflow time).
 */
export function countObservedUnchanged(counters: SyncCounters, count: number, at: string): SyncCounters {
  if (count === 0) return counters;
  const lastSuccessTime =
    counters.lastSuccessTime === null || at > counters.lastSuccessTime ? at : counters.lastSuccessTime;
  return {
    ...counters,
    devicesDone: counters.devicesDone + count,
    unchangedCount: counters.unchangedCount + count,
    lastSuccessTime,
  };
}

/** `count` more devices found not holding their policy when observed. */
export function countDrift(counters: SyncCounters, count: number): SyncCounters {
  return count === 0 ? counters : { ...counters, drifted: (counters.drifted ?? 0) + count };
}

/**
 * Whether a device's final outcome counts as drift: written (its own read, or the observation, found it
 * differing), or found in sync by its write after the observation had judged it drifted (fixed meanwhile). A
 * failed device is not counted: a rerun that writes it counts it then, so no device counts twice.
 */
export function isDrift(
  outcome: Pick<DeviceOutcome, 'status'>,
  verdict: ObservedVerdict | undefined,
): boolean {
  return (
    outcome.status === 'succeeded' ||
    (outcome.status === 'unchanged' && (verdict === 'drifted' || verdict === 'absent'))
  );
}

/** Takes `count` failed writes off the books, because their devices are queued again. */
export function uncountFailures(counters: SyncCounters, count: number): SyncCounters {
  return {
    ...counters,
    devicesTotal: counters.devicesTotal - count,
    devicesDone: counters.devicesDone - count,
    failureCount: counters.failureCount - count,
  };
}

/** Plans `count` more device writes. */
export function planWrites(counters: SyncCounters, count: number): SyncCounters {
  return { ...counters, devicesTotal: counters.devicesTotal + count };
}

/** 403s seen per write attempt; 0 before any attempt. */
export function authErrorRate(counters: Pick<SyncCounters, 'authErrors' | 'writeAttempts'>): number {
  return counters.writeAttempts > 0 ? counters.authErrors / counters.writeAttempts : 0;
}

/**
 * The counters as they stand while devices are still being retried: their failed first attempts (and 403s)
 * added to the finished devices' attempts. What the live metrics and the 403-rate alert judge, so that a retry
 * storm shows as it happens; when a device finishes, its outcome carries those attempts instead.
 */
export function withRetrying(
  counters: SyncCounters,
  tallies: Iterable<RetryingTally | undefined>,
): SyncCounters {
  let { authErrors, writeAttempts } = counters;
  for (const tally of tallies) {
    if (!tally) continue;
    authErrors += tally.authErrors;
    writeAttempts += tally.attempts;
  }
  return { ...counters, authErrors, writeAttempts };
}

/** A progress signal's `retrying`, if it is one (signals may come from any client); else undefined. */
export function retryingTallyOf(value: unknown): RetryingTally | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { devices, attempts, authErrors } = value as Record<string, unknown>;
  const count = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  if (!count(devices) || !count(attempts) || !count(authErrors) || authErrors > attempts) return undefined;
  return { devices, attempts, authErrors };
}

export function toSyncMetrics(
  counters: SyncCounters,
  phase: SyncPhase,
  startedAt: string | null,
  alerts: readonly AlertRecord[],
): SyncMetrics {
  return {
    phase,
    devicesTotal: counters.devicesTotal,
    devicesDone: counters.devicesDone,
    successCount: counters.successCount,
    failureCount: counters.failureCount,
    unchangedCount: counters.unchangedCount,
    driftedCount: counters.drifted ?? 0,
    authErrors: counters.authErrors,
    writeAttempts: counters.writeAttempts,
    throttledCount: counters.throttledCount,
    retriedCount: counters.retriedCount,
    authErrorRate: authErrorRate(counters),
    lastSuccessTime: counters.lastSuccessTime,
    startedAt,
    alerts: alerts.map((alert) => ({ ...alert })),
  };
}
