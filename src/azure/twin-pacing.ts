/**
 * How twin updates are paced. IoT Hub meters them per hub at a rate set by its tier and units (S1: 50/s for
 * one unit), averaged over short windows with a small burst, and sends no remaining-budget header: the
 * pacer cannot learn the budget, only be told it and hear the 429s. So it paces at a margin below the
 * documented rate from the first write (clock drift, the hub's window edges, another client's updates)
 * and adapts to 429s (AIMD), which also covers a rate configured higher than the hub allows.
 */
import type { PacingOptions } from './pacing';

/** IoT Hub S1, one unit: twin updates per second. */
export const DEFAULT_TWIN_UPDATES_PER_SECOND = 50;

/** The share of the documented rate paced at. */
export const TWIN_PACING_MARGIN = 0.95;

/** Pacing options for twin updates of a hub documented at `updatesPerSecond`. Pure. */
export function twinUpdatePacing(updatesPerSecond = DEFAULT_TWIN_UPDATES_PER_SECOND): PacingOptions {
  if (!(updatesPerSecond > 0))
    throw new RangeError(`twin updates per second must be > 0, got ${updatesPerSecond}`);
  const rate = updatesPerSecond * TWIN_PACING_MARGIN;
  return {
    remainingHeader: undefined,
    assumeLimits: true,
    refillPerSecond: rate,
    // Half a second's worth: enough writes in flight for a slow round trip (the pacer never has more
    // unanswered than its burst), small enough that a bucket another client half-used takes it.
    burst: Math.max(2, Math.ceil(rate / 2)),
    reserve: 1,
    adaptive: { decreaseFactor: 0.7, recoveryPerSecond: 0.02, minFactor: 0.1 },
  };
}
