import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { closedStatus } from '../../src/cli/sync-runs';

void describe('closedStatus', () => {
  void it('decides by the failure class, not by its name', () => {
    assert.equal(closedStatus(new CancelledFailure('cancelled')), 'CANCELLED');
    assert.equal(closedStatus(new TerminatedFailure('terminated by operator')), 'TERMINATED');
    assert.equal(
      closedStatus(new TimeoutFailure('timed out', undefined, TimeoutType.START_TO_CLOSE)),
      'TIMED_OUT',
    );
    assert.equal(
      closedStatus(ApplicationFailure.create({ type: 'PermissionsNotPropagated', message: 'x' })),
      'FAILED',
    );
    assert.equal(closedStatus(undefined), 'FAILED');
  });

  void it('an application failure whose name mentions a timeout or a cancel is still FAILED', () => {
    const failure = ApplicationFailure.create({ type: 'Timeout', message: 'x' });
    Object.defineProperty(failure, 'name', { value: 'TimeoutCancelledError' });
    assert.equal(closedStatus(failure), 'FAILED');
  });
});
