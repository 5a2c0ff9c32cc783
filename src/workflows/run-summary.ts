/**
 * The run summary a sync returns, and the phase the world sees. Pure; sandbox-safe.
 */
import type { AlertRecord } from '../domain/alerts';
import type { SyncState } from './carried-state';
import { LISTING_BUDGET, SUMMARY_BUDGET, utf8Length } from './failure-ledger';
import type { PolicySyncInput, RunSummary, SyncPhase } from './types';

export function runSummary(
  workflowId: string,
  input: Pick<PolicySyncInput, 'hub' | 'target'>,
  state: SyncState,
  alerts: AlertRecord[],
  nowInMs: number,
): RunSummary {
  const { counters, failures, rejected } = state;
  // The failure list gets what the payload budget leaves beside the rejections and alerts.
  const rest = utf8Length(JSON.stringify([rejected, alerts]));
  const listingBudget = Math.max(0, Math.min(LISTING_BUDGET, SUMMARY_BUDGET - rest));
  return {
    workflowId,
    hub: input.hub,
    target: input.target,
    devicesTotal: counters.devicesTotal,
    succeeded: counters.successCount,
    unchanged: counters.unchangedCount,
    failed: failures.list(listingBudget).map(({ deviceId, code, message }) => ({ deviceId, code, message })),
    rejected,
    authErrors: counters.authErrors,
    writeAttempts: counters.writeAttempts,
    throttled: counters.throttledCount,
    durationMs: nowInMs - state.startedAtMs,
    alerts,
  };
}

/** A syncing sync that is paused shows as 'paused'. */
export function visiblePhase(phase: SyncPhase, paused: boolean): SyncPhase {
  return phase === 'syncing' && paused ? 'paused' : phase;
}
