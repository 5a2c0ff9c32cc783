import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { causeChain, innermostCause, MAX_CAUSE_DEPTH } from '../../src/domain/cause-chain';

void describe('causeChain', () => {
  void it('lists an error and its causes, outermost first', () => {
    const root = new Error('root');
    const middle = new Error('middle', { cause: root });
    const outer = new Error('outer', { cause: middle });
    assert.deepEqual(causeChain(outer), [outer, middle, root]);
    assert.deepEqual(causeChain('not an object'), []);
  });

  void it('ends on a cyclic chain', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    assert.equal(causeChain(a).length, MAX_CAUSE_DEPTH);
  });
});

void describe('innermostCause', () => {
  const isWrapper = (e: unknown) => e instanceof ActivityFailure || e instanceof ChildWorkflowFailure;

  void it('goes through wrappers only, to the failure that says what went wrong', () => {
    const reason = ApplicationFailure.create({ type: 'Misconfigured', message: 'POLICIES_FILE is not JSON' });
    const activity = new ActivityFailure(
      'Activity task failed',
      'loadInventory',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      'id',
      reason,
    );
    const child = new ChildWorkflowFailure(
      'default',
      { workflowId: 'sync/batch-1', runId: 'r' },
      'policyBatchWorkflow',
      RetryState.NON_RETRYABLE_FAILURE,
      activity,
    );
    assert.equal(innermostCause(child, isWrapper), reason);
    assert.equal(
      innermostCause(child, (e) => e instanceof ChildWorkflowFailure),
      activity,
    );
  });

  void it('stops at an error that is no wrapper, and keeps one without a cause', () => {
    const inner = new Error('inner');
    const plain = new Error('plain', { cause: inner });
    assert.equal(innermostCause(plain, isWrapper), plain);
    const bare = new ChildWorkflowFailure(
      'default',
      { workflowId: 'sync/batch-1', runId: 'r' },
      'policyBatchWorkflow',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
    );
    assert.equal(innermostCause(bare, isWrapper), bare);
  });
});
