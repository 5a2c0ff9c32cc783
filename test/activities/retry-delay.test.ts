import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailureCategory } from '@temporalio/common';
import { mapFailure, toApplicationFailure, willBeRetried } from '../../src/activities/failures';
import {
  exponentialBackoffInMs,
  fullJitterBackoffInMs,
  retryAfterWithJitterInMs,
  triesAgainWithinAttempt,
} from '../../src/activities/retry-delay';
import { AzureRequestError } from '../../src/azure/errors';
import { InventoryError } from '../../src/inventory/errors';
import { FailureType } from '../../src/domain/failure-codes';

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

void describe('willBeRetried and benign failures', () => {
  const half = () => 0.5;
  const forbidden = mapFailure(
    new AzureRequestError({ code: FailureType.AuthorizationFailed, message: 'x' }),
    1,
    half,
  );
  const refused = mapFailure(
    new AzureRequestError({ code: FailureType.InvalidPolicy, message: 'x' }),
    1,
    half,
  );
  void it('a retryable failure is retried until the retry policy has no attempts left', () => {
    const policy = { maximumAttempts: 3 };
    const durable = { isLocal: false, retryPolicy: policy };
    assert.equal(willBeRetried(forbidden, { ...durable, attempt: 2, deviceAttempt: 3 }), true);
    assert.equal(willBeRetried(forbidden, { ...durable, attempt: 3, deviceAttempt: 4 }), false);
    assert.equal(
      willBeRetried(forbidden, { isLocal: false, attempt: 50, deviceAttempt: 50 }),
      true,
      'no limit: retried',
    );
  });
  void it("not past the device's attempt budget, counting its local first attempt", () => {
    const outlook = { isLocal: false, attempt: 4, deviceAttempt: 5, deviceMaximumAttempts: 5 };
    assert.equal(willBeRetried(forbidden, outlook), false);
    assert.equal(willBeRetried(forbidden, { ...outlook, deviceMaximumAttempts: 6 }), true);
  });
  void it('not when the next attempt would start after the schedule-to-close time', () => {
    // forbidden waits 1 s (attempt 1, half jitter of 2 s); 10 s budget from t = 0.
    const outlook = {
      isLocal: false,
      attempt: 3,
      deviceAttempt: 3,
      scheduledTimestampMs: 0,
      scheduleToCloseTimeoutMs: 10_000,
    };
    assert.equal(willBeRetried(forbidden, outlook, 8_000), true);
    assert.equal(willBeRetried(forbidden, outlook, 9_500), false);
  });
  void it('a local first attempt is handed on when the device has attempts left; a non-retryable failure is final', () => {
    const local = { isLocal: true, attempt: 1, retryPolicy: { maximumAttempts: 1 }, deviceAttempt: 1 };
    assert.equal(willBeRetried(forbidden, { ...local, deviceMaximumAttempts: 30 }), true);
    assert.equal(
      willBeRetried(forbidden, { ...local, deviceMaximumAttempts: 1 }),
      false,
      'retry.maximumAttempts 1: nothing to hand over to',
    );
    assert.equal(willBeRetried(refused, local), false);
    assert.equal(willBeRetried(refused, { ...local, isLocal: false }), false);
  });
  void it('only failures marked benign carry the BENIGN category', () => {
    assert.equal(
      toApplicationFailure(forbidden, undefined, { benign: true }).category,
      ApplicationFailureCategory.BENIGN,
    );
    assert.equal(toApplicationFailure(forbidden).category, undefined);
  });
});

void describe('a refused write tried again within its attempt', () => {
  const refusal = {
    isLocal: false,
    authorization: true,
    gated: false,
    settling: true,
    attempt: 1,
    maximumAttempts: 30,
    timeLeftInMs: 20_000,
  };
  void it('while other writes pass, as long as the attempt has time and the device tries left', () => {
    assert.equal(triesAgainWithinAttempt(refusal), true);
    assert.equal(triesAgainWithinAttempt({ ...refusal, attempt: 29 }), true);
    assert.equal(triesAgainWithinAttempt({ ...refusal, attempt: 30 }), false);
    assert.equal(triesAgainWithinAttempt({ ...refusal, timeLeftInMs: 0 }), false);
    assert.equal(triesAgainWithinAttempt({ ...refusal, settling: false }), false, 'no evidence: the backoff');
  });
  void it('while the gate probes, as long as the attempt has time', () => {
    const gated = { ...refusal, gated: true, settling: false };
    assert.equal(triesAgainWithinAttempt(gated), true);
    assert.equal(triesAgainWithinAttempt({ ...gated, timeLeftInMs: 0 }), false);
  });
  void it('never in the local first attempt, never past the device budget, never for another failure', () => {
    assert.equal(triesAgainWithinAttempt({ ...refusal, gated: true, isLocal: true }), false);
    assert.equal(triesAgainWithinAttempt({ ...refusal, gated: true, attempt: 30 }), false);
    assert.equal(triesAgainWithinAttempt({ ...refusal, gated: true, authorization: false }), false);
  });
});
