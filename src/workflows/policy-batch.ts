/**
 * policyBatchWorkflow: the child. Writes the policy to each of its devices (≤ 50) concurrently, each through a
 * durable applySecurityPolicy activity with an explicit retry policy, reports outcomes to the parent a few at a
 * time, and returns them all.
 */
import {
  ApplicationFailure,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { PolicySyncActivities } from '../activities/types';
import { outcomeFromFailure, outcomeFromResult } from './device-outcome';
import { NON_RETRYABLE_FAILURE_TYPES } from './failure-types';
import { batchProgressSignal } from './messages';
import { MAX_BATCH_SIZE, resolveRetryOptions, SYNC_DEFAULTS, validateRetryOptions } from './options';
import type { DeviceAssignment, DeviceOutcome, PolicyBatchInput, PolicyBatchResult } from './types';

export async function policyBatchWorkflow(input: PolicyBatchInput): Promise<PolicyBatchResult> {
  const retry = resolveRetryOptions(input.retry);
  const problems = validateRetryOptions(retry);
  if (input.devices.length > MAX_BATCH_SIZE) problems.push(`a batch holds at most ${MAX_BATCH_SIZE} devices`);
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(`Invalid batch input: ${problems.join('; ')}`, 'InvalidInput');

  // Temporal adds no jitter to retries; the activity sets nextRetryDelay (with jitter, or Retry-After) itself,
  // which overrides these intervals. The intervals remain the fallback for errors it does not classify.
  const { applySecurityPolicy } = proxyActivities<PolicySyncActivities>({
    startToCloseTimeout: retry.startToCloseTimeoutInMs,
    scheduleToCloseTimeout: retry.scheduleToCloseTimeoutInMs,
    retry: {
      initialInterval: retry.initialIntervalInMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalInMs,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
    },
  });

  const reporter = new ProgressReporter(input, input.reportEvery ?? SYNC_DEFAULTS.reportEvery);

  async function apply(device: DeviceAssignment): Promise<DeviceOutcome> {
    let outcome: DeviceOutcome;
    try {
      const result = await applySecurityPolicy.executeWithOptions({ summary: device.deviceId }, [
        {
          deviceId: device.deviceId,
          policy: device.policy,
          target: input.target,
          snapshotId: input.snapshotId,
          backoff: {
            initialIntervalInMs: retry.initialIntervalInMs,
            backoffCoefficient: retry.backoffCoefficient,
            maximumIntervalInMs: retry.maximumIntervalInMs,
          },
        },
      ]);
      outcome = outcomeFromResult(device.deviceId, result, new Date().toISOString());
    } catch (error) {
      if (isCancellation(error)) throw error;
      outcome = outcomeFromFailure(device.deviceId, error, retry.maximumAttempts);
    }
    reporter.add(outcome);
    return outcome;
  }

  const outcomes = await Promise.all(input.devices.map(apply));
  await reporter.drained();
  return { batchNumber: input.batchNumber, outcomes };
}

/**
 * Sends outcomes to the parent by signal every `reportEvery` devices and with the last device, one signal at a
 * time. A signal that cannot be delivered is only logged: the batch's result carries every outcome too.
 */
class ProgressReporter {
  private pending: DeviceOutcome[] = [];
  private done = 0;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly input: PolicyBatchInput,
    private readonly reportEvery: number,
  ) {}

  add(outcome: DeviceOutcome): void {
    this.pending.push(outcome);
    this.done += 1;
    const final = this.done === this.input.devices.length;
    if (this.pending.length >= this.reportEvery || final) this.flush(final);
  }

  drained(): Promise<void> {
    return this.sending;
  }

  private flush(final: boolean): void {
    const outcomes = this.pending;
    this.pending = [];
    const parent = getExternalWorkflowHandle(this.input.parentWorkflowId);
    this.sending = this.sending.then(async () => {
      try {
        await parent.signal(batchProgressSignal, { batchNumber: this.input.batchNumber, outcomes, final });
      } catch (error) {
        if (isCancellation(error)) return; // the batch is being cancelled; nothing left to report
        log.warn('Could not report progress to the parent; its result will carry the outcomes', {
          parentWorkflowId: this.input.parentWorkflowId,
          batch: workflowInfo().workflowId,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
  }
}
