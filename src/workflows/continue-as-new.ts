/**
 * The parent's continue-as-new: what it carries (carried-state.ts) into a run of the same workflow, the
 * search attributes kept. Workflow code.
 */
import { log, makeContinueAsNewFunc, workflowInfo } from '@temporalio/workflow';
import { carryState, type SyncState } from './carried-state';
import type { PolicySyncInput, RunSummary } from './types';

export async function continueSyncAsNew(input: PolicySyncInput, state: SyncState): Promise<never> {
  const carried = carryState(state);
  const { historyLength } = workflowInfo();
  const { nextBatchNumber, counters } = state;
  log.info('Continuing as new', { historyLength, nextBatchNumber, devicesDone: counters.devicesDone });
  // deviceIds only served loadInventory; the snapshot now stands for them.
  // The memo (the outcome in words) and the search attributes go on with the next run.
  const { typedSearchAttributes, memo } = workflowInfo();
  const next = makeContinueAsNewFunc<(input: PolicySyncInput) => Promise<RunSummary>>({
    typedSearchAttributes,
    ...(memo ? { memo } : {}),
  });
  return next({ ...input, deviceIds: undefined, carried });
}
