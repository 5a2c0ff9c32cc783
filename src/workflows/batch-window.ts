/**
 * The running policyBatchWorkflow children of one sync: starts them, and counts each device's outcome exactly
 * once, whether it came by progress signal or in the child's result. Workflow code.
 */
import {
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { innermostCause } from '../domain/cause-chain';
import { OutcomeCode } from '../domain/failure-codes';
import type { DeviceAssignment } from '../domain/inventory';
import type { DeviceRetryOptions } from '../domain/retry-defaults';
import type { ObservedVerdict } from './device-backlog';
import { failedWithoutAttempt, sanitizeMessage } from './device-outcome';
import { retryingTallyOf } from './metrics';
import { BATCH_IOT_HUB_PATCH } from './options';
import { policyBatchWorkflow } from './policy-batch';
import { iotHubSearchAttribute } from './search-attributes';
import type { BatchProgress, DeviceOutcome, PolicyTarget, RetryingTally } from './types';

interface RunningBatch {
  devices: DeviceAssignment[];
  deviceIds: Set<string>;
  /** Devices whose outcome is already counted (by a progress signal or the result). */
  counted: Set<string>;
  /** What a bulk observation said of the devices it judged (see DeviceBacklog.takeJudgedBatch). */
  verdicts: ReadonlyMap<string, ObservedVerdict>;
  /** The batch's devices being retried, as of its last progress report. */
  retrying?: RetryingTally;
}

export interface BatchWindowOptions {
  /** The parent's workflow id: it names the children and receives their progress. */
  workflowId: string;
  hub: string;
  target: PolicyTarget;
  retry: Required<DeviceRetryOptions>;
  reportEvery: number;
  /** Whether batches' `retrying` tallies are kept (see LIVE_RETRYING_TALLY_PATCH). */
  countsRetrying: boolean;
  /** Called once per device outcome, with the bulk observation's verdict of the device if it judged it. */
  record(outcome: DeviceOutcome, verdict: ObservedVerdict | undefined): void;
}

export class BatchWindow {
  private readonly running = new Map<number, RunningBatch>();

  constructor(private readonly options: BatchWindowOptions) {}

  get size(): number {
    return this.running.size;
  }

  /** The `retrying` tallies of the running batches (undefined where none was reported). */
  retryingTallies(): (RetryingTally | undefined)[] {
    return [...this.running.values()].map((batch) => batch.retrying);
  }

  /** Starts batch `batchNumber` of inventory snapshot `snapshotId`; it runs until its child closes. */
  start(
    batchNumber: number,
    snapshotId: string,
    devices: DeviceAssignment[],
    verdicts: ReadonlyMap<string, ObservedVerdict> = new Map(),
  ): void {
    const batch: RunningBatch = {
      devices,
      deviceIds: new Set(devices.map((device) => device.deviceId)),
      counted: new Set(),
      verdicts,
    };
    this.running.set(batchNumber, batch);
    void this.run(batchNumber, snapshotId, batch);
  }

  /** Counts a progress report; false for a late report of a batch already reconciled from its result. */
  onProgress(progress: BatchProgress): boolean {
    const batch = this.running.get(progress?.batchNumber);
    if (!batch) return false;
    batch.retrying =
      progress.final || !this.options.countsRetrying ? undefined : retryingTallyOf(progress.retrying);
    for (const outcome of progress.outcomes ?? []) this.count(batch, outcome);
    return true;
  }

  /** Runs one child and reconciles its result with what its progress signals already counted. Never throws. */
  private async run(batchNumber: number, snapshotId: string, batch: RunningBatch): Promise<void> {
    const { workflowId, hub, target, retry, reportEvery } = this.options;
    const absent = batch.devices
      .filter((device) => batch.verdicts.get(device.deviceId) === 'absent')
      .map((device) => device.deviceId);
    try {
      const result = await executeChild(policyBatchWorkflow, {
        workflowId: `${workflowId}/batch-${batchNumber}`,
        args: [
          {
            hub,
            target,
            parentWorkflowId: workflowId,
            batchNumber,
            snapshotId,
            devices: batch.devices,
            retry,
            reportEvery,
            ...(absent.length > 0 ? { absent } : {}),
          },
        ],
        staticSummary: `batch ${batchNumber}: ${batch.devices.length} devices`,
        // The hub's batches are found with its syncs (`IotHub = 'x'`); the CLI filters by workflow type.
        ...(patched(BATCH_IOT_HUB_PATCH)
          ? { typedSearchAttributes: [{ key: iotHubSearchAttribute, value: hub }] }
          : {}),
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        // A cancelled sync waits for its batches to cancel their writes, so nothing writes after it ends.
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        // The id is deterministic: a leftover child of an earlier execution with this workflow id (reset,
        // retried run) is stale; replace it rather than fail.
        workflowIdReusePolicy: WorkflowIdReusePolicy.TERMINATE_IF_RUNNING,
      });
      batch.retrying = undefined; // its outcomes below carry those attempts
      for (const outcome of result.outcomes) this.count(batch, outcome);
      this.failUncounted(batch, OutcomeCode.BatchFailed, 'The batch returned no outcome for this device');
    } catch (error) {
      batch.retrying = undefined;
      const code = isCancellation(error) ? OutcomeCode.Cancelled : OutcomeCode.BatchFailed;
      // The child's failure wraps what went wrong in it.
      const cause = innermostCause(error, (e) => e instanceof ChildWorkflowFailure);
      const message = sanitizeMessage(
        `Batch ${batchNumber} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
      log.error('Batch failed', { batchNumber, error: message });
      this.failUncounted(batch, code, message);
    } finally {
      this.running.delete(batchNumber);
    }
  }

  private failUncounted(batch: RunningBatch, code: OutcomeCode, message: string): void {
    for (const device of batch.devices)
      if (!batch.counted.has(device.deviceId))
        this.count(batch, failedWithoutAttempt(device.deviceId, code, message));
  }

  /** Counts an outcome once per batch and device, whether it came by signal or in the result. */
  private count(batch: RunningBatch, outcome: DeviceOutcome): void {
    if (!batch.deviceIds.has(outcome.deviceId) || batch.counted.has(outcome.deviceId)) return;
    batch.counted.add(outcome.deviceId);
    this.options.record(outcome, batch.verdicts.get(outcome.deviceId));
  }
}
