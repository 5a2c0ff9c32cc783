/**
 * When preflight checks permissions again: soon at first, because propagation is often quick, then further
 * apart up to a cap, because it can take many minutes. Pure; sandbox-safe.
 */

export interface PreflightSchedule {
  firstRecheckInMs: number;
  /** Growth of the wait from one check to the next. */
  backoffCoefficient: number;
  maxRecheckInMs: number;
  timeoutInMs: number;
}

/** Delay before re-check number `recheck` (1-based): first, first×c, first×c²… capped, in whole ms. */
export function recheckDelay(recheck: number, schedule: PreflightSchedule): number {
  const exponent = Math.min(Math.max(0, recheck - 1), 1_000);
  const delay = schedule.firstRecheckInMs * schedule.backoffCoefficient ** exponent;
  return Math.round(Math.min(schedule.maxRecheckInMs, delay));
}

/**
 * How long to sleep before the next check, or undefined when the timeout has passed. The last sleep is
 * shortened so that a final check happens exactly at the timeout.
 */
export function nextPreflightWait(
  elapsedInMs: number,
  checksDone: number,
  schedule: PreflightSchedule,
): number | undefined {
  const remaining = schedule.timeoutInMs - elapsedInMs;
  if (remaining <= 0) return undefined;
  return Math.min(recheckDelay(checksDone, schedule), remaining);
}
