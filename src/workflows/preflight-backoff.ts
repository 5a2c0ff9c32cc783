/**
 * When preflight checks permissions again: soon at first, because propagation is often quick, then further
 * apart up to a cap, because it can take many minutes. Pure; sandbox-safe.
 */

export interface PreflightSchedule {
  firstRecheckInMs: number;
  maxRecheckInMs: number;
  timeoutInMs: number;
}

/** Delay before re-check number `recheck` (1-based): first, 2×first, 4×first… capped. */
export function recheckDelay(recheck: number, schedule: PreflightSchedule): number {
  const exponent = Math.max(0, recheck - 1);
  return Math.min(schedule.maxRecheckInMs, schedule.firstRecheckInMs * 2 ** Math.min(exponent, 52));
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
