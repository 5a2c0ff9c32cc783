/**
 * Reconcile, not push: a sync reads its inventory pages through readDriftedInventoryPage, which judges them
 * against one bulk observation of the fleet (ARM's list, IoT Hub's device query). Devices already holding
 * their policy are counted done and unchanged without a batch; only the drifted ones are batched. Where the
 * hub refuses the bulk read, or the read fails for good, the sync falls back to per-device reads (each write
 * reads its device first), says so once, and records it. Workflow code.
 */
import { ActivityFailure, ApplicationFailure, isCancellation, log } from '@temporalio/workflow';
import { FailureType } from '../domain/failure-codes';
import type { SyncState } from './carried-state';
import { readObservedPage, readPage } from './control-activities';
import type { InventoryPage } from './device-backlog';
import { countObservedUnchanged } from './metrics';
import type { PolicyTarget } from './types';

/** Runs with this patch read their pages against the fleet's observation (syncs of named devices do not). */
export const RECONCILE_OBSERVATION_PATCH = 'reconcile-observation';

/** Failures of the observed read that a per-device read would hit too: the sync fails with them. */
const FATAL_TYPES: ReadonlySet<string> = new Set([FailureType.InventoryChanged, FailureType.Misconfigured]);

/** One sync run's identity for the observation: its workflow id and first start (kept across continue-as-new). */
export function syncObservationId(workflowId: string, startedAt: string): string {
  return `${workflowId}@${startedAt}`;
}

/** Reads `page` against the observation into the backlog, counting its in-sync devices; falls back if need be. */
export async function readReconciledPage(
  state: SyncState,
  sync: { hub: string; target: PolicyTarget; workflowId: string },
  page: InventoryPage,
): Promise<void> {
  const snapshotId = state.snapshot?.id ?? '';
  let result;
  try {
    result = await readObservedPage(
      {
        hub: sync.hub,
        target: sync.target,
        snapshotId,
        syncId: syncObservationId(sync.workflowId, state.startedAt),
      },
      page,
    );
  } catch (error) {
    if (isCancellation(error) || !(error instanceof ActivityFailure)) throw error;
    const cause = error.cause;
    if (cause instanceof ApplicationFailure && FATAL_TYPES.has(cause.type ?? '')) throw error;
    fallBack(state, `the fleet could not be observed (${cause?.message ?? error.message})`);
    state.backlog.addPage(page, await readPage(snapshotId, page));
    return;
  }
  if (result.observation === 'unsupported')
    fallBack(state, `the hub does not offer the ${sync.target === 'arm' ? 'list' : 'device query'}`);
  state.counters = countObservedUnchanged(state.counters, result.unchanged, new Date().toISOString());
  state.backlog.addObservedPage(page, result, result.observation === 'bulk');
}

/** From now on each device is read by its own write; said once per sync, recorded in the run summary. */
function fallBack(state: SyncState, why: string): void {
  state.reconciles = false;
  if (state.observation === 'perDevice') return;
  state.observation = 'perDevice';
  log.warn(`Observing the fleet failed: ${why}; the sync falls back to per-device reads`);
}
