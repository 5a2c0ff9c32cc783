import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decidePacing, initialPacingState, observePacing, WritePacer, type PacingState } from '../../src/azure/pacing';

const options = { burst: 200, refillPerSecond: 10, reserve: 2, probeConcurrency: Infinity };

function reserve(state: PacingState, now: number, n: number): { state: PacingState; delays: number[] } {
  const delays: number[] = [];
  for (let i = 0; i < n; i++) {
    const decision = decidePacing(state, now, options);
    delays.push(decision.delayInMs);
    state = decision.state;
  }
  return { state, delays };
}

describe('decidePacing / observePacing', () => {
  it('lets a burst through, then spaces writes at the refill rate', () => {
    const { delays } = reserve(initialPacingState(options, 0), 0, 203);
    assert.ok(delays.slice(0, 198).every((d) => d === 0), 'the bucket minus the reserve goes at once');
    assert.deepEqual(delays.slice(198, 201), [100, 200, 300], 'then one write per 100 ms');
  });

  it('before the first response, lets only a few writes out to learn the real budget', () => {
    const probing = { ...options, probeConcurrency: 3 };
    let state = initialPacingState(probing, 0);
    for (let i = 0; i < 3; i++) {
      const d = decidePacing(state, 0, probing);
      assert.equal(d.reserved, true);
      state = d.state;
    }
    const blocked = decidePacing(state, 0, probing);
    assert.equal(blocked.reserved, false);
    assert.ok(blocked.delayInMs > 0);
    state = observePacing(state, { statusCode: 200, headers: { 'x-ms-ratelimit-remaining-subscription-writes': '50' } }, 0, probing);
    assert.equal(state.learned, true);
    assert.equal(state.tokens, 48, 'remaining minus the writes still in flight');
    assert.equal(decidePacing(state, 0, probing).reserved, true);
  });

  it('learns a low remaining budget from the header', () => {
    let state = initialPacingState(options, 0);
    state = decidePacing(state, 0, options).state;
    state = observePacing(state, { statusCode: 200, headers: { 'x-ms-ratelimit-remaining-subscription-writes': '3' } }, 0, options);
    const { delays } = reserve(state, 0, 3);
    assert.deepEqual(delays, [0, 100, 200]);
  });

  it('raises its capacity when the server reports more than assumed', () => {
    let state = decidePacing(initialPacingState(options, 0), 0, options).state;
    state = observePacing(state, { statusCode: 200, headers: { 'x-ms-ratelimit-remaining-subscription-writes': '1199' } }, 0, options);
    assert.equal(state.capacity, 1199);
    assert.ok(reserve(state, 0, 1000).delays.every((d) => d === 0));
  });

  it('holds every write after a 429 until Retry-After passes', () => {
    let state = decidePacing(initialPacingState(options, 0), 0, options).state;
    state = observePacing(state, { statusCode: 429, headers: { 'retry-after': '4' } }, 1000, options);
    assert.equal(state.holdUntilInMs, 5000);
    const { delays } = reserve(state, 1000, 45);
    assert.ok(delays.every((d) => d >= 4000), 'nothing before the hold ends');
    // The bucket refilled 40 during the hold; 2 are kept in reserve.
    assert.equal(delays.filter((d) => d === 4000).length, 38);
    assert.deepEqual(delays.slice(38, 41), [4100, 4200, 4300], 'then one write per 100 ms');
  });

  it('stays out of the way until it learns something when limits are not assumed', () => {
    const twin = { remainingHeader: undefined, assumeLimits: false, refillPerSecond: 50, burst: 50 };
    let state = initialPacingState(twin, 0);
    for (let i = 0; i < 500; i++) {
      const d = decidePacing(state, 0, twin);
      assert.equal(d.delayInMs, 0);
      state = d.state;
    }
    state = observePacing(state, { statusCode: 429, headers: {} }, 0, twin);
    assert.equal(state.active, true);
    assert.equal(decidePacing(state, 0, twin).delayInMs, 1000, 'default hold without Retry-After');
  });
});

describe('WritePacer', () => {
  it('waits as decided and honours abort', async () => {
    let now = 0;
    const slept: number[] = [];
    const pacer = new WritePacer({
      ...options,
      burst: 3,
      reserve: 0,
      now: () => now,
      sleep: async (ms, signal) => {
        signal?.throwIfAborted();
        slept.push(ms);
        now += ms;
      },
    });
    for (let i = 0; i < 4; i++) await pacer.acquire();
    assert.deepEqual(slept, [0, 0, 0, 100]);
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await assert.rejects(pacer.acquire(controller.signal), /cancelled/);
    assert.equal(pacer.snapshot().inFlight, 4, 'an aborted acquire gives its slot back');
  });
});
