/**
 * The run summary a sync returns, and the phase the world sees. Pure; sandbox-safe.
 */
import type { AlertRecord } from '../domain/alerts';
import type { ComplianceCounts } from '../domain/compliance';
import type { AnswerFailureEntry } from './ack-plan';
import type { SyncState } from './carried-state';
import { LISTING_BUDGET, SUMMARY_BUDGET, utf8Length } from './failure-ledger';
import type { PolicySyncInput, RunSummary, SyncPhase } from './types';

export function runSummary(
  workflowId: string,
  input: Pick<PolicySyncInput, 'hub' | 'target'>,
  state: SyncState,
  alerts: AlertRecord[],
  nowInMs: number,
  /** Twin target: the devices' answers (compliance), and the devices that refused or failed the policy. */
  answers?: { counts: ComplianceCounts; failures: AnswerFailureEntry[] },
): RunSummary {
  const { counters, failures, rejected } = state;
  // The failure list gets what the payload budget leaves beside the rejections, alerts and devices' refusals.
  const rest = utf8Length(JSON.stringify([rejected, alerts, answers?.failures ?? []]));
  const listingBudget = Math.max(0, Math.min(LISTING_BUDGET, SUMMARY_BUDGET - rest));
  return {
    workflowId,
    hub: input.hub,
    target: input.target,
    devicesTotal: counters.devicesTotal,
    succeeded: counters.successCount,
    unchanged: counters.unchangedCount,
    drifted: counters.drifted ?? 0,
    observation: state.observation,
    failed: [
      ...failures.list(listingBudget).map(({ deviceId, code, message }) => ({ deviceId, code, message })),
      ...(answers?.failures ?? []),
    ],
    rejected,
    authErrors: counters.authErrors,
    writeAttempts: counters.writeAttempts,
    throttled: counters.throttledCount,
    durationMs: nowInMs - state.startedAtMs,
    alerts,
    ...(answers ? { compliance: { ...answers.counts } } : {}),
  };
}

/** What the log line at the end of a sync says of it: the counts, not the lists. */
export function summaryLogFields(summary: RunSummary, failed: number): Record<string, unknown> {
  const { devicesTotal, succeeded, unchanged, drifted, observation, durationMs } = summary;
  return { devicesTotal, succeeded, unchanged, drifted, failed, observation, durationMs };
}

/** A syncing sync that is paused shows as 'paused'. */
export function visiblePhase(phase: SyncPhase, paused: boolean): SyncPhase {
  return phase === 'syncing' && paused ? 'paused' : phase;
}
