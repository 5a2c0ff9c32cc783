import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acquireOrThrottle,
  decidePacing,
  decreasedRateFactor,
  initialPacingState,
  observePacing,
  pacedRatePerSecond,
  recoveredRateFactor,
  WritePacer,
  type PacingOptions,
  type PacingState,
} from '../../src/azure/pacing';
import { twinUpdatePacing } from '../../src/azure/twin-pacing';
import { takeToken, type TokenBucketState } from '../../src/emulator/token-bucket';

const options: PacingOptions = { burst: 200, refillPerSecond: 10, reserve: 2, probeConcurrency: Infinity };
const remaining = (n: number, statusCode = 200) => ({
  statusCode,
  headers: { 'x-ms-ratelimit-remaining-subscription-writes': String(n) },
});

/** Releases as many writes as the pacer allows at `now`; returns how many and the state. */
function drain(
  state: PacingState,
  now: number,
  o: PacingOptions = options,
): { released: number; state: PacingState; waitInMs?: number } {
  let released = 0;
  for (;;) {
    const d = decidePacing(state, now, o);
    state = d.state;
    if (!d.release) return { released, state, waitInMs: d.waitInMs };
    released += 1;
  }
}

void describe('decidePacing / observePacing', () => {
  void it('lets the burst (minus the reserve) through, then one write per refill interval', () => {
    const first = drain(initialPacingState(options, 0), 0);
    assert.equal(first.released, 198);
    assert.equal(first.waitInMs, 100);
    // Responses come back; the budget refills at 10/s.
    let state = first.state;
    for (let i = 0; i < 198; i++) state = observePacing(state, undefined, 0, options);
    const next = drain(state, 100);
    assert.equal(next.released, 1);
    assert.equal(drain(next.state, 1100).released, 10);
  });

  void it('never lets more writes be unanswered than the bucket holds, however long they take to arrive', () => {
    const small = { ...options, burst: 20 };
    let { released, state } = drain(initialPacingState(small, 0), 0, small);
    assert.equal(released, 18);
    // A long time passes with none of them answered: the bucket cannot have refilled past its size.
    ({ released, state } = drain(state, 60_000, small));
    assert.equal(released, 0);
    state = observePacing(state, remaining(19), 60_000, small);
    ({ released } = drain(state, 60_000, small));
    assert.equal(released, 0, 'remaining 19 minus 17 still in flight minus the reserve of 2 leaves nothing');
  });

  void it('before the first response, lets only a few writes out to learn the real budget', () => {
    const probing = { ...options, probeConcurrency: 3 };
    const probe = drain(initialPacingState(probing, 0), 0, probing);
    assert.equal(probe.released, 3);
    assert.ok((probe.waitInMs ?? 0) > 0);
    const state = observePacing(probe.state, remaining(50), 0, probing);
    assert.equal(state.learned, true);
    assert.equal(state.tokens, 48, 'remaining minus the writes still in flight');
    assert.equal(drain(state, 0, probing).released, 46);
  });

  void it('learns a low remaining budget from the header', () => {
    let state = decidePacing(initialPacingState(options, 0), 0, options).state;
    state = observePacing(state, remaining(3), 0, options);
    const { released, waitInMs } = drain(state, 0);
    assert.equal(released, 1);
    assert.equal(waitInMs, 100);
  });

  void it('raises its capacity when the server reports more than assumed', () => {
    let state = decidePacing(initialPacingState(options, 0), 0, options).state;
    state = observePacing(state, remaining(1199), 0, options);
    assert.equal(state.capacity, 1199);
    assert.equal(drain(state, 0).released, 1197);
  });

  void it("ignores the remaining count of answers that did not meter the caller's bucket (5xx, 401)", () => {
    let state = decidePacing(initialPacingState(options, 0), 0, options).state;
    state = observePacing(state, remaining(3), 0, options);
    // A gateway's 503 and an unauthenticated 401 with a full bucket's count must not release a burst.
    for (const statusCode of [500, 503, 401]) {
      state = decidePacing(state, 0, options).state;
      state = observePacing(state, remaining(200, statusCode), 0, options);
      assert.ok(state.tokens <= 3, `after a ${statusCode}: ${state.tokens} tokens`);
    }
    assert.equal(drain(state, 0).released, 0);
    // A metered 4xx (here a 403 after authentication) still speaks for the bucket.
    state = observePacing(decidePacing(state, 1000, options).state, remaining(150, 403), 1000, options);
    assert.equal(drain(state, 1000).released, 148);
  });

  void it('holds every write after a 429 until Retry-After passes', () => {
    let state = decidePacing(initialPacingState(options, 0), 0, options).state;
    state = observePacing(state, { statusCode: 429, headers: { 'retry-after': '4' } }, 1000, options);
    assert.equal(state.holdUntilInMs, 5000);
    const held = decidePacing(state, 1000, options);
    assert.equal(held.release, false);
    assert.equal(held.release ? 0 : held.waitInMs, 4000);
    // The bucket refilled during the hold: 40 tokens, 2 kept in reserve.
    assert.equal(drain(state, 5000).released, 38);
  });

  void it('stays out of the way until it learns something when limits are not assumed', () => {
    const twin = { remainingHeader: undefined, assumeLimits: false, refillPerSecond: 50, burst: 50 };
    let state = initialPacingState(twin, 0);
    for (let i = 0; i < 500; i++) {
      const d = decidePacing(state, 0, twin);
      assert.equal(d.release, true);
      state = d.state;
    }
    state = observePacing(state, { statusCode: 429, headers: {} }, 0, twin);
    assert.equal(state.active, true);
    const d = decidePacing(state, 0, twin);
    assert.equal(d.release ? 0 : d.waitInMs, 1000, 'default hold without Retry-After');
  });
});

void describe('WritePacer', () => {
  void it('serves waiters in order as the budget allows, and an aborted waiter leaves the queue', async () => {
    let now = 0;
    const pacer = new WritePacer({
      burst: 3,
      reserve: 0,
      refillPerSecond: 1000,
      probeConcurrency: Infinity,
      now: () => now,
    });
    const order: number[] = [];
    const controller = new AbortController();
    const waits = [0, 1, 2, 3, 4].map((i) =>
      pacer.acquire(i === 3 ? controller.signal : undefined).then(
        () => order.push(i),
        () => order.push(-i),
      ),
    );
    await Promise.resolve();
    assert.equal(pacer.snapshot().waiting, 2);
    controller.abort(new Error('cancelled'));
    now = 5; // 5 ms: five tokens refilled, but only 3 may be unanswered at once
    pacer.release(undefined);
    await Promise.all(waits);
    assert.deepEqual(order, [0, 1, 2, -3, 4]);
  });

  void it('refuses to queue past maxQueueWaitInMs, as a Throttled error with the time the queue needs', async () => {
    const pacer = new WritePacer({
      burst: 1,
      reserve: 0,
      refillPerSecond: 10,
      probeConcurrency: Infinity,
      maxQueueWaitInMs: 250,
    });
    await pacer.acquire();
    // Each queued write answers as soon as it is let through, freeing room for the next.
    const queued = [1, 2].map(() => pacer.acquire().then(() => pacer.release(undefined)));
    await assert.rejects(acquireOrThrottle(pacer, undefined, 'd-9'), (e: unknown) => {
      assert.ok(e instanceof Error && e.name === 'AzureRequestError');
      const error = e as Error & { code: string; retryAfterInMs: number; deviceId: string };
      assert.equal(error.code, 'Throttled');
      assert.equal(error.deviceId, 'd-9');
      assert.equal(error.retryAfterInMs, 300);
      return true;
    });
    pacer.release(undefined);
    await Promise.all(queued);
  });
});

/**
 * A full write of `writes` devices from `callers` concurrent callers through the pure pacer, against a hub
 * metering twin updates with a token bucket of one second's worth (the emulator's model), answers after
 * `latencyInMs` (the hub decides half-way). A 429 puts the device back in line. Millisecond steps.
 */
function simulateTwinWrite(
  options: PacingOptions,
  hubPerSecond: number,
  { writes = 2000, callers = 200, latencyInMs = 20 } = {},
) {
  let state = initialPacingState(options, 0);
  let bucket: TokenBucketState | undefined;
  let waiting = writes;
  let throttled = 0;
  const okAt: number[] = [];
  const inFlight: { answerAt: number; statusCode: number; retryAfterSeconds: number }[] = [];
  // Bounded: a pacer that bounces off the hub stops the run early (its 429 share already fails it).
  for (let now = 0; okAt.length < writes && throttled <= writes && now < 300_000; now++) {
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const answer = inFlight[i];
      if (!answer || answer.answerAt > now) continue;
      inFlight.splice(i, 1);
      const headers = answer.statusCode === 429 ? { 'retry-after': String(answer.retryAfterSeconds) } : {};
      state = observePacing(state, { statusCode: answer.statusCode, headers }, now, options);
      if (answer.statusCode === 429) {
        throttled++;
        waiting++;
      } else okAt.push(now);
    }
    while (waiting > 0 && inFlight.length < callers) {
      const decision = decidePacing(state, now, options);
      state = decision.state;
      if (!decision.release) break;
      waiting--;
      const hub = takeToken(
        bucket,
        { burst: hubPerSecond, refillPerSec: hubPerSecond },
        now + latencyInMs / 2,
      );
      bucket = hub.state;
      inFlight.push({
        answerAt: now + latencyInMs,
        statusCode: hub.allowed ? 200 : 429,
        retryAfterSeconds: hub.retryAfterSeconds,
      });
    }
  }
  // Once the hub's burst (one second's worth) is spent, only its rate lets writes through.
  const burstSpentAt = okAt[hubPerSecond - 1] ?? 0;
  const sustained = (okAt.length - hubPerSecond) / (((okAt.at(-1) ?? 0) - burstSpentAt) / 1000);
  return { written: okAt.length, share429: throttled / (okAt.length + throttled), sustained };
}

void describe('twin update pacing (no remaining header; AIMD on 429s)', () => {
  void it('paces below the documented rate from the first write: ≥ 90% of it, no 429, at 20, 50 and 100/s', () => {
    for (const rate of [20, 50, 100]) {
      const run = simulateTwinWrite(twinUpdatePacing(rate), rate);
      assert.equal(run.written, 2000);
      assert.equal(run.share429, 0, `${rate}/s: ${(run.share429 * 100).toFixed(2)}% 429s`);
      assert.ok(run.sustained >= 0.9 * rate, `${rate}/s: ${run.sustained.toFixed(1)}/s sustained`);
      assert.ok(run.sustained <= rate, `${rate}/s: ${run.sustained.toFixed(1)}/s sustained`);
    }
  });

  void it('keeps up with a slow round trip (300 ms): the burst allows enough writes in flight', () => {
    const run = simulateTwinWrite(twinUpdatePacing(50), 50, { latencyInMs: 300 });
    assert.equal(run.share429, 0);
    assert.ok(run.sustained >= 45, `${run.sustained.toFixed(1)}/s`);
  });

  void it('adapts to a hub slower than it was told (told 50/s, hub 20/s): few 429s, most of the rate', () => {
    const run = simulateTwinWrite(twinUpdatePacing(50), 20);
    assert.ok(run.share429 < 0.02, `${(run.share429 * 100).toFixed(2)}% 429s`);
    assert.ok(run.sustained >= 0.8 * 20, `${run.sustained.toFixed(1)}/s`);
  });

  void it('cuts the rate once per hold, not once per 429 of the writes that were in flight', () => {
    const options = twinUpdatePacing(50);
    let state = initialPacingState(options, 0);
    for (let i = 0; i < 5; i++) state = decidePacing(state, 0, options).state;
    const throttled = { statusCode: 429, headers: { 'retry-after': '1' } };
    state = observePacing(state, throttled, 10, options);
    assert.equal(state.rateFactor, 0.7);
    state = observePacing(state, throttled, 12, options);
    state = observePacing(state, throttled, 900, options);
    assert.equal(state.rateFactor, 0.7, 'answers within the hold are the same congestion');
    assert.ok(Math.abs(pacedRatePerSecond(state, options) - 0.7 * 47.5) < 1e-9);
    assert.equal(state.holdUntilInMs, 1900, 'the last 429 in flight extends the hold');
    // A 429 after the hold is a new one (the rate regained 110 ms' worth since the hold ended).
    state = observePacing(decidePacing(state, 2000, options).state, throttled, 2010, options);
    assert.ok(Math.abs(state.rateFactor - 0.7 * (0.7 + 0.02 * 0.11)) < 1e-9, String(state.rateFactor));
  });

  void it('regains the rate linearly after the hold, up to the configured rate and no further', () => {
    const options = twinUpdatePacing(50);
    let state = observePacing(
      decidePacing(initialPacingState(options, 0), 0, options).state,
      { statusCode: 429, headers: { 'retry-after': '1' } },
      0,
      options,
    );
    assert.equal(decidePacing(state, 999, options).state.rateFactor, 0.7, 'no recovery while holding');
    state = decidePacing(state, 6000, options).state;
    assert.ok(Math.abs(state.rateFactor - 0.8) < 1e-9, `5 s after the hold: ${state.rateFactor}`);
    state = decidePacing(state, 60_000, options).state;
    assert.equal(state.rateFactor, 1);
  });

  void it('decreasedRateFactor / recoveredRateFactor stay within [minFactor, 1]', () => {
    const adaptive = { decreaseFactor: 0.5, minFactor: 0.1, recoveryPerSecond: 0.1 };
    assert.equal(decreasedRateFactor(0.15, adaptive), 0.1);
    assert.equal(decreasedRateFactor(1, adaptive), 0.5);
    assert.equal(recoveredRateFactor(0.5, 2000, adaptive), 0.7);
    assert.equal(recoveredRateFactor(0.95, 60_000, adaptive), 1);
    assert.equal(recoveredRateFactor(0.5, -5, adaptive), 0.5);
  });

  void it('with limits assumed and no header to learn from, lets its whole burst out (no probe cap)', () => {
    const options = twinUpdatePacing(50);
    let state = initialPacingState(options, 0);
    let released = 0;
    // Bounded: an unpaced pacer would release forever.
    for (; released < 100; released++) {
      const decision = decidePacing(state, 0, options);
      if (!decision.release) break;
      state = decision.state;
    }
    assert.equal(released, 23, 'ceil(47.5 / 2) = 24 burst, 1 in reserve');
  });

  void it('refuses a rate that is not positive', () => {
    assert.throws(() => twinUpdatePacing(0), /must be > 0/);
  });
});
