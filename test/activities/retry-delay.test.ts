import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapFailure } from '../../src/activities/failures';
import {
  exponentialBackoffInMs,
  fullJitterBackoffInMs,
  retryAfterWithJitterInMs,
} from '../../src/activities/retry-delay';
import { AzureRequestError } from '../../src/azure/errors';
import { InventoryError } from '../../src/inventory/errors';
import { FailureType } from '../../src/workflows/failure-types';

void describe('retry delays', () => {
  void it('grows exponentially from 1 s, doubling, capped at 8 s (the device retry defaults)', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => exponentialBackoffInMs(a)),
      [1000, 2000, 4000, 8000, 8000, 8000],
    );
  });
  void it('full jitter stays between the floor and the exponential delay, and spreads', () => {
    assert.equal(
      fullJitterBackoffInMs(3, () => 0),
      100,
    );
    assert.equal(
      fullJitterBackoffInMs(3, () => 1),
      4000,
    );
    const spread = new Set(Array.from({ length: 50 }, () => fullJitterBackoffInMs(4, Math.random)));
    assert.ok(spread.size > 30);
  });
  void it('Retry-After plus a little jitter', () => {
    assert.equal(
      retryAfterWithJitterInMs(2000, () => 0),
      2000,
    );
    assert.equal(
      retryAfterWithJitterInMs(2000, () => 1),
      2200,
    );
    assert.equal(
      retryAfterWithJitterInMs(60_000, () => 1),
      61_000,
    );
  });
});

void describe('mapFailure', () => {
  const half = () => 0.5;
  void it('AuthorizationFailed, Unauthorized and Transient retry with a jittered backoff', () => {
    for (const code of [
      FailureType.AuthorizationFailed,
      FailureType.Unauthorized,
      FailureType.Transient,
    ] as const) {
      const m = mapFailure(new AzureRequestError({ code, message: 'x' }), 2, half);
      assert.equal(m.type, code);
      assert.equal(m.nonRetryable, false);
      assert.equal(m.nextRetryDelayInMs, 1050);
    }
  });
  void it('Throttled retries after Retry-After', () => {
    const m = mapFailure(
      new AzureRequestError({ code: FailureType.Throttled, message: 'x', retryAfterInMs: 5000 }),
      1,
      () => 0,
    );
    assert.equal(m.nextRetryDelayInMs, 5000);
  });
  void it('non-retryable types carry no delay', () => {
    for (const code of [
      FailureType.InvalidPolicy,
      FailureType.DeviceNotFound,
      FailureType.TargetUnsupported,
      FailureType.Misconfigured,
    ] as const) {
      const m = mapFailure(new AzureRequestError({ code, message: 'x' }), 1, half);
      assert.equal(m.nonRetryable, true, code);
      assert.equal(m.nextRetryDelayInMs, undefined);
    }
  });
  void it('inventory errors map to their failure types', () => {
    assert.equal(
      mapFailure(new InventoryError('InventoryChanged', 'x'), 1, half).type,
      FailureType.InventoryChanged,
    );
    assert.equal(
      mapFailure(new InventoryError('PolicyNotFound', 'x'), 1, half).type,
      FailureType.PolicyNotFound,
    );
    assert.equal(
      mapFailure(new InventoryError('InvalidInventoryFile', 'x'), 1, half).type,
      FailureType.Misconfigured,
    );
  });
});
