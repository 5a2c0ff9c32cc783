import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nextPreflightWait,
  recheckDelay,
  type PreflightSchedule,
} from '../../src/workflows/preflight-backoff';
import { SYNC_DEFAULTS, SYNC_DEFAULTS_V2 } from '../../src/workflows/options';

/** When the schedule's checks happen, from the first (at 0) until `untilInMs`. */
function checkTimes(schedule: PreflightSchedule, untilInMs: number): number[] {
  const times = [0];
  for (let checks = 1; times.at(-1)! < untilInMs; checks++) {
    const wait = nextPreflightWait(times.at(-1)!, checks, schedule);
    if (wait === undefined) break;
    times.push(times.at(-1)! + wait);
  }
  return times;
}

void describe('preflight backoff', () => {
  void it('re-checks after 250 ms, a quarter longer each time, up to 60 s (the defaults)', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => recheckDelay(n, SYNC_DEFAULTS.preflight));
    assert.deepEqual(delays, [250, 313, 391, 488, 610, 763, 954, 1_192]);
    assert.equal(recheckDelay(10_000, SYNC_DEFAULTS.preflight), 60_000);
  });

  void it('notices a grant at most a quarter of the time waited (plus 250 ms) after it appears', () => {
    const times = checkTimes(SYNC_DEFAULTS.preflight, 240_000);
    for (let grantAtInMs = 1; grantAtInMs < 240_000; grantAtInMs += 97) {
      const noticedAt = times.find((t) => t >= grantAtInMs)!;
      assert.ok(
        noticedAt <= 1.25 * grantAtInMs + 251,
        `granted at ${grantAtInMs} ms, noticed at ${noticedAt} ms`,
      );
    }
    // Doubling (the defaults before) noticed a grant at 8.1 s only at 15 s.
    const before = checkTimes(SYNC_DEFAULTS_V2.preflight, 20_000);
    assert.equal(
      before.find((t) => t >= 8_100),
      15_000,
    );
    assert.ok(times.find((t) => t >= 8_100)! <= 10_400);
  });

  void it('checks a last time at the timeout, then gives up', () => {
    const schedule = {
      firstRecheckInMs: 100,
      backoffCoefficient: 2,
      maxRecheckInMs: 400,
      timeoutInMs: 1_000,
    };
    assert.equal(nextPreflightWait(0, 1, schedule), 100);
    assert.equal(nextPreflightWait(900, 5, schedule), 100);
    assert.equal(nextPreflightWait(1_000, 6, schedule), undefined);
    assert.equal(nextPreflightWait(0, 1, { ...schedule, timeoutInMs: 0 }), undefined);
  });

  void it('fits about 50 checks into the default 30 minutes', () => {
    let elapsed = 0;
    let checks = 1;
    for (
      let wait = nextPreflightWait(elapsed, checks, SYNC_DEFAULTS.preflight);
      wait !== undefined;
      checks++
    ) {
      elapsed += wait;
      wait = nextPreflightWait(elapsed, checks + 1, SYNC_DEFAULTS.preflight);
    }
    assert.equal(elapsed, SYNC_DEFAULTS.preflight.timeoutInMs);
    assert.ok(checks > 45 && checks < 56, `${checks} checks`);
  });
});
