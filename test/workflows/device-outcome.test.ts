import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { outcomeFromFailure, outcomeFromResult, sanitizeMessage } from '../../src/workflows/device-outcome';

const activityFailure = (cause: Error, retryState: RetryState = RetryState.NON_RETRYABLE_FAILURE) =>
  new ActivityFailure('Activity task failed', 'applySecurityPolicy', '1', retryState, 'worker', cause);

void describe('device outcome', () => {
  void it('keeps the activity result and the time', () => {
    assert.deepEqual(
      outcomeFromResult(
        'd',
        { status: 'unchanged', attempts: 2, authErrors: 1, throttled: 0 },
        '2026-01-01T00:00:00Z',
      ),
      {
        deviceId: 'd',
        status: 'unchanged',
        attempts: 2,
        authErrors: 1,
        throttled: 0,
        completedAt: '2026-01-01T00:00:00Z',
      },
    );
  });

  void it('takes code from the failure type and counters from details[0]', () => {
    const cause = ApplicationFailure.create({
      type: 'AuthorizationFailed',
      message: '403 on PUT securityPolicies/d\n    at write (arm.ts:10:3)',
      details: [{ attempts: 10, authErrors: 9, throttled: 1 }],
    });
    assert.deepEqual(
      outcomeFromFailure('d', activityFailure(cause, RetryState.MAXIMUM_ATTEMPTS_REACHED), 10),
      {
        deviceId: 'd',
        status: 'failed',
        attempts: 10,
        authErrors: 9,
        throttled: 1,
        code: 'AuthorizationFailed',
        message: '403 on PUT securityPolicies/d',
      },
    );
  });

  void it("never counts less than the local first attempt's counters after the durable activity took over", () => {
    const bare = activityFailure(
      new TimeoutFailure('t', undefined, TimeoutType.SCHEDULE_TO_CLOSE),
      RetryState.TIMEOUT,
    );
    const prior = { attempts: 1, authErrors: 1, throttled: 0 };
    const outcome = outcomeFromFailure('d', bare, 30, prior);
    assert.deepEqual([outcome.attempts, outcome.authErrors, outcome.throttled], [2, 1, 0]);
    // Counters from the durable attempts win when they are higher.
    const counted = activityFailure(
      ApplicationFailure.create({
        type: 'AuthorizationFailed',
        details: [{ attempts: 5, authErrors: 5, throttled: 0 }],
      }),
      RetryState.MAXIMUM_ATTEMPTS_REACHED,
    );
    assert.equal(outcomeFromFailure('d', counted, 5, prior).authErrors, 5);
  });

  void it('codes timeouts as Timeout, with heartbeat counters when there are some', () => {
    const timeout = new TimeoutFailure(
      'timed out',
      [{ attempts: 3, authErrors: 0, throttled: 2 }],
      TimeoutType.SCHEDULE_TO_CLOSE,
    );
    const outcome = outcomeFromFailure('d', activityFailure(timeout, RetryState.TIMEOUT), 10);
    assert.equal(outcome.code, 'Timeout');
    assert.equal(outcome.attempts, 3);
    assert.equal(outcome.throttled, 2);
    const bare = outcomeFromFailure(
      'd',
      activityFailure(
        new TimeoutFailure('t', undefined, TimeoutType.START_TO_CLOSE),
        RetryState.MAXIMUM_ATTEMPTS_REACHED,
      ),
      7,
    );
    assert.equal(bare.attempts, 7, 'inferred from the retry state');
    // What the activity heartbeats: the 403/429 counts, without attempts.
    const partial = new TimeoutFailure('t', { authErrors: 4, throttled: 1 }, TimeoutType.SCHEDULE_TO_CLOSE);
    const fromHeartbeat = outcomeFromFailure('d', activityFailure(partial, RetryState.TIMEOUT), 10);
    assert.deepEqual([fromHeartbeat.attempts, fromHeartbeat.authErrors, fromHeartbeat.throttled], [1, 4, 1]);
  });

  void it('codes cancellations as Cancelled', () => {
    assert.equal(
      outcomeFromFailure('d', activityFailure(new CancelledFailure('cancelled')), 10).code,
      'Cancelled',
    );
  });

  void it('keeps secrets and stacks out of messages', () => {
    assert.equal(
      sanitizeMessage('failed: Authorization: Bearer abc.def-ghi_jkl sent\nstack'),
      'failed: Authorization: Bearer [redacted] sent',
    );
    assert.equal(
      sanitizeMessage('token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl end'),
      'token [redacted-jwt] end',
    );
    assert.equal(sanitizeMessage('POST client_secret=hunter2&x=1'), 'POST client_secret=[redacted]&x=1');
    assert.equal(sanitizeMessage('x'.repeat(1000)).length, 300);
  });
});
