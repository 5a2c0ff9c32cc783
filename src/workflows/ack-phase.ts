/**
 * The acknowledgement phase of a twin-target sync: after its last batch, the sync looks at the devices'
 * answers (assessCompliance, one bulk twin read each time) at growing intervals, with durable timers, until no
 * connected device holding our policy is still to answer or the deadline passes; then a final assessment with
 * the deadline passed (connected devices still silent are stale). A rerun arriving meanwhile interrupts the
 * wait: the sync goes back to writing and starts the phase again afterwards. Workflow code.
 */
import { condition, log, patched, proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { AssessComplianceResult, PolicySyncActivities } from '../domain/activity-contract';
import type { AlertKind } from '../domain/alerts';
import type { ComplianceCounts } from '../domain/compliance';
import type { PolicySyncInput } from './types';
import {
  answerFailureEntries,
  complianceLine,
  DEVICE_ACKNOWLEDGEMENTS_PATCH,
  nextAckWait,
  type AnswerFailureEntry,
} from './ack-plan';
import { deviceRejectionsExceeded, deviceRejectionsMessage } from './alert-rules';
import { controlRetry } from './control-activities';

// One bulk read of the hub's twins: long for a large fleet (its queries are paced), so it heartbeats.
const { assessCompliance } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: controlRetry,
});

export interface AckPhaseOptions {
  hub: string;
  snapshotId: string;
  deadlineInMs: number;
  /** True when the wait should end early (a rerun arrived). */
  interrupted: () => boolean;
  /** Hears every assessment, the final one with `final` true. */
  onAssessment: (result: AssessComplianceResult, final: boolean) => void;
}

/** The final assessment, or 'interrupted' when a rerun came first. */
export async function acknowledgementPhase(
  options: AckPhaseOptions,
): Promise<AssessComplianceResult | 'interrupted'> {
  const { hub, snapshotId, deadlineInMs } = options;
  const started = Date.now();
  let lastQueries = 0;
  for (let checks = 0; ; checks++) {
    const wait = nextAckWait({ checks, lastQueries, elapsedInMs: Date.now() - started, deadlineInMs });
    if (wait === undefined) break;
    if (await condition(options.interrupted, wait)) return 'interrupted';
    // Only the final assessment lists the devices that refused: the looks before it need the counts.
    const result = await assessCompliance({
      hub,
      target: 'twin',
      snapshotId,
      deadlinePassed: false,
      listLimit: 0,
    });
    options.onAssessment(result, false);
    log.info('Device acknowledgements', { ...result.counts, awaiting: result.pendingCount });
    if (result.pendingCount === 0) break;
    lastQueries = result.queries;
  }
  if (options.interrupted()) return 'interrupted';
  const final = await assessCompliance({ hub, target: 'twin', snapshotId, deadlinePassed: true });
  options.onAssessment(final, true);
  return final;
}

export interface DeviceAnswersHooks {
  /** Devices holding the policy (written or found unchanged): what a rejection rate is a share of. */
  holding(): number;
  threshold: number;
  raiseAlert(kind: AlertKind, message: string): void;
  /** Something shown changed: refresh the UI's details. */
  changed(): void;
}

/** The parent's book of the devices' answers: the latest assessment's counts, the final one's refusals. */
export class DeviceAnswers {
  counts: ComplianceCounts | undefined;
  private failures: AnswerFailureEntry[] = [];

  constructor(private readonly hooks: DeviceAnswersHooks) {}

  onAssessment(result: AssessComplianceResult, final: boolean): void {
    this.counts = result.counts;
    if (final) this.failures = answerFailureEntries(result.rejected, result.counts);
    const holding = this.hooks.holding();
    if (deviceRejectionsExceeded(result.counts.rejected, holding, this.hooks.threshold))
      this.hooks.raiseAlert(
        'DeviceRejections',
        deviceRejectionsMessage(result.counts.rejected, holding, this.hooks.threshold),
      );
    upsertMemo({ compliance: complianceLine(result.counts) });
    this.hooks.changed();
  }

  /** What the run summary takes: undefined until an assessment came. */
  forSummary(): { counts: ComplianceCounts; failures: AnswerFailureEntry[] } | undefined {
    return this.counts ? { counts: this.counts, failures: this.failures } : undefined;
  }
}

export interface AcknowledgeOptions {
  input: PolicySyncInput;
  snapshotId: string | undefined;
  deadlineInMs: number;
  answers: DeviceAnswers;
  rerunsPending: () => boolean;
  /** Enters a phase: 'acknowledging' while waiting, 'syncing' while a rerun is written. */
  setPhase: (phase: 'acknowledging' | 'syncing') => void;
  /** Writes what the reruns asked for, as the sync loop does. */
  syncDevices: () => Promise<void>;
}

/**
 * Twin target: wait for the devices' answers. A rerun arriving meanwhile is synced first, then the phase
 * starts again. Arm writes have no device answer: nothing to wait for; a deadline of 0 reads no answers.
 * Returns whether it waited.
 */
export async function acknowledge(options: AcknowledgeOptions): Promise<boolean> {
  const { input, snapshotId, answers } = options;
  // A deadline of 0 turns the phase off: for fleets whose devices do not answer by the convention.
  if (input.target !== 'twin' || !snapshotId || options.deadlineInMs <= 0) return false;
  if (!patched(DEVICE_ACKNOWLEDGEMENTS_PATCH)) return false;
  for (;;) {
    options.setPhase('acknowledging');
    const final = await acknowledgementPhase({
      hub: input.hub,
      snapshotId,
      deadlineInMs: options.deadlineInMs,
      interrupted: options.rerunsPending,
      onAssessment: (result, isFinal) => answers.onAssessment(result, isFinal),
    });
    if (final !== 'interrupted') return true;
    options.setPhase('syncing');
    await options.syncDevices();
  }
}
