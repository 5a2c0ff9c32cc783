import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextStep, type SyncLoopFacts } from '../../src/workflows/sync-loop';

const idle: SyncLoopFacts = {
  rerunsPending: false,
  aborted: false,
  abortThresholdExceeded: false,
  paused: false,
  runningBatches: 0,
  maxConcurrentBatches: 2,
  pending: false,
  needsPage: false,
  historyIsLarge: false,
  deliveriesInFlight: false,
  handlersFinished: true,
};

void describe('nextStep', () => {
  void it('reruns first, then abort, then the window', () => {
    assert.equal(nextStep({ ...idle, rerunsPending: true, abortThresholdExceeded: true }), 'rerun');
    assert.equal(nextStep({ ...idle, abortThresholdExceeded: true, pending: true }), 'abort');
    assert.equal(
      nextStep({ ...idle, aborted: true, abortThresholdExceeded: true, pending: true }),
      'failAborted',
    );
    assert.equal(nextStep({ ...idle, pending: true, needsPage: true }), 'read');
    assert.equal(nextStep({ ...idle, pending: true }), 'batch');
  });

  void it('waits while the window is full, paused, or deliveries are in flight', () => {
    assert.equal(nextStep({ ...idle, pending: true, runningBatches: 2 }), 'wait');
    assert.equal(nextStep({ ...idle, pending: true, paused: true }), 'wait');
    assert.equal(nextStep({ ...idle, handlersFinished: false }), 'wait');
    assert.equal(
      nextStep({ ...idle, pending: true, historyIsLarge: true, deliveriesInFlight: true }),
      'wait',
    );
    assert.equal(nextStep({ ...idle, aborted: true, pending: true, runningBatches: 1 }), 'wait');
  });

  void it('drains alert deliveries at the end, once batches and handlers are done; reruns still come first', () => {
    assert.equal(nextStep({ ...idle, deliveriesInFlight: true }), 'drainAlerts');
    assert.equal(nextStep({ ...idle, deliveriesInFlight: true, runningBatches: 1 }), 'wait');
    assert.equal(nextStep({ ...idle, deliveriesInFlight: true, handlersFinished: false }), 'wait');
    assert.equal(nextStep({ ...idle, deliveriesInFlight: true, pending: true, paused: true }), 'wait');
    assert.equal(nextStep({ ...idle, deliveriesInFlight: true, rerunsPending: true }), 'rerun');
  });

  void it('ends when nothing is pending; continues as new only with no batch running', () => {
    assert.equal(nextStep(idle), 'done');
    assert.equal(nextStep({ ...idle, pending: true, historyIsLarge: true, runningBatches: 1 }), 'wait');
    assert.equal(nextStep({ ...idle, pending: true, historyIsLarge: true }), 'continueAsNew');
    assert.equal(nextStep({ ...idle, pending: true, paused: true, historyIsLarge: true }), 'continueAsNew');
  });
});
