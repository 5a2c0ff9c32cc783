import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { classifyAzureError } from '../../src/azure/errors';
import { outcomeFromFailure } from '../../src/workflows/device-outcome';
import { finalActivityFailure, finalFailureMessage } from '../../src/workflows/final-failure';

const connectionRefused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
  code: 'ECONNREFUSED',
});
const context = { operation: 'writing the policy', deviceId: 'd1' };
/** Messages as the Azure layer words them for one attempt that will be retried. */
const retryable = {
  econnrefused: classifyAzureError({ error: connectionRefused }, context).message,
  transient503: classifyAzureError({ statusCode: 503, headers: {}, body: '' }, context).message,
  throttled: classifyAzureError({ statusCode: 429, headers: { 'retry-after': '4' }, body: '' }, context)
    .message,
  forbidden: classifyAzureError({ statusCode: 403, headers: {}, body: '' }, context).message,
  unauthorized: classifyAzureError({ statusCode: 401, headers: {}, body: '' }, context).message,
};

void describe('final failure messages', () => {
  void it('the attempt’s messages say "will retry" (what this replaces)', () => {
    for (const message of Object.values(retryable)) assert.match(message, /will retry/i, message);
  });

  void it('replace the "will retry" clause with "gave up after N attempts"', () => {
    for (const [name, message] of Object.entries(retryable)) {
      const final = finalFailureMessage(message, 5);
      assert.doesNotMatch(final, /will retry/i, `${name}: ${final}`);
      assert.match(final, /gave up after 5 attempts/i, `${name}: ${final}`);
    }
    assert.equal(
      finalFailureMessage('writing the policy: the connection failed (ECONNREFUSED); will retry.', 3),
      'writing the policy: the connection failed (ECONNREFUSED); gave up after 3 attempts.',
    );
    assert.equal(finalFailureMessage('x; will retry after 4 s. (detail)'), 'x; gave up. (detail)');
    assert.equal(finalFailureMessage('Not retried.', 1), 'Not retried.');
  });

  void it("a device's final outcome does not say it will retry", () => {
    const cause = ApplicationFailure.create({
      type: 'Transient',
      message: retryable.econnrefused,
      details: [{ attempts: 30, authErrors: 0, throttled: 0 }],
    });
    const error = new ActivityFailure(
      'Activity task failed',
      'applySecurityPolicy',
      '1',
      RetryState.MAXIMUM_ATTEMPTS_REACHED,
      'worker',
      cause,
    );
    const outcome = outcomeFromFailure('d1', error, 30);
    assert.equal(outcome.code, 'Transient');
    assert.doesNotMatch(outcome.message ?? '', /will retry/i);
    assert.match(outcome.message ?? '', /ECONNREFUSED.*gave up after 30 attempts/);
  });

  void it("the sync's failure for an activity out of attempts keeps the type, with a final message", () => {
    const cause = ApplicationFailure.create({ type: 'Transient', message: retryable.econnrefused });
    const error = new ActivityFailure(
      'Activity task failed',
      'checkRolePropagation',
      '1',
      RetryState.MAXIMUM_ATTEMPTS_REACHED,
      'worker',
      cause,
    );
    const final = finalActivityFailure(error, 5);
    assert.ok(final instanceof ApplicationFailure);
    assert.equal(final.type, 'Transient');
    assert.equal(final.nonRetryable, true);
    assert.match(final.message, /ECONNREFUSED.*; gave up after 5 attempts\.$/);
    const other = new Error('something else');
    assert.equal(finalActivityFailure(other, 5), other);
  });
});
