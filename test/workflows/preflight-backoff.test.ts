import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextPreflightWait, recheckDelay } from '../../src/workflows/preflight-backoff';
import { SYNC_DEFAULTS } from '../../src/workflows/options';

void describe('preflight backoff', () => {
  void it('re-checks after 1 s, doubling to 60 s (the defaults)', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => recheckDelay(n, SYNC_DEFAULTS.preflight));
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert.equal(recheckDelay(10_000, SYNC_DEFAULTS.preflight), 60_000);
  });

  void it('checks a last time at the timeout, then gives up', () => {
    const schedule = { firstRecheckInMs: 100, maxRecheckInMs: 400, timeoutInMs: 1_000 };
    assert.equal(nextPreflightWait(0, 1, schedule), 100);
    assert.equal(nextPreflightWait(900, 5, schedule), 100);
    assert.equal(nextPreflightWait(1_000, 6, schedule), undefined);
    assert.equal(nextPreflightWait(0, 1, { ...schedule, timeoutInMs: 0 }), undefined);
  });

  void it('fits about 35 checks into the default 30 minutes', () => {
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
    assert.ok(checks > 30 && checks < 40, `${checks} checks`);
  });
});
