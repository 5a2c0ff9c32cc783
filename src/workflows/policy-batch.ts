/**
 * policyBatchWorkflow: the child. Writes the policy to each of its devices (≤ 50) concurrently, reports
 * outcomes to the parent a few at a time, and returns them all.
 *
 * Each device gets one local first attempt (the worker runs it inside the workflow task: no task-queue round
 * trip, one marker in history). A device whose first try fails with a retryable error waits the failure's
 * delay, then goes to the durable applySecurityPolicy activity, whose retry policy does the rest (403 backoff
 * with a fresh token, 429 Retry-After); errors that will not heal end the device at once. In a calm fleet
 * nearly every device is done by its local attempt; in a propagation storm the retries are durable activities,
 * visible in the Temporal UI with their attempt counts. Devices whose local attempt the hub's authorization gate
 * held (nothing sent) are written together in one applySecurityPolicies activity (HeldDevices), and go on to
 * their own durable activity only if the group cannot finish them.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  ApplyPolicyInput,
  ApplyPolicyResult,
  AttemptCounters,
  GroupedDeviceResult,
  PolicySyncActivities,
} from '../domain/activity-contract';
import {
  durableRetryAfterLocalAttempt,
  heldAtGate,
  outcomeFromFailure,
  outcomeFromResult,
  type DurableRetry,
} from './device-outcome';
import { HeldDevices } from './held-devices';
import { NON_RETRYABLE_FAILURE_TYPES, OutcomeCode, RunFailureCode } from '../domain/failure-codes';
import { batchProgressSignal } from './messages';
import { MAX_BATCH_SIZE, resolveRetryOptions, SYNC_DEFAULTS, validateRetryOptions } from './options';
import type {
  BatchProgress,
  DeviceAssignment,
  DeviceOutcome,
  PolicyBatchInput,
  PolicyBatchResult,
  RetryingTally,
} from './types';

/** Marks histories that try devices locally first; histories from before it replay the all-durable way. */
export const LOCAL_FIRST_ATTEMPT_PATCH = 'local-first-attempt';
/** Marks histories whose progress signals coalesce (ProgressReporter); older ones replay one signal per step. */
export const COALESCED_PROGRESS_PATCH = 'coalesced-progress-signals';
/**
 * Marks histories whose devices held at the authorization gate are written in one applySecurityPolicies
 * activity; histories from before it replay with one durable activity per held device.
 */
export const GROUPED_HOLD_PATCH = 'gate-held-devices-grouped';
/**
 * Marks histories whose batches leave their last outcomes to their result (the parent counts them from it)
 * instead of a final progress signal first, one round trip less at the end of each batch.
 */
export const FINAL_OUTCOMES_IN_RESULT_PATCH = 'final-outcomes-in-result';
/** applySecurityPolicies' heartbeat timeout (the activity heartbeats every 2 s). */
export const GROUP_HEARTBEAT_TIMEOUT_MS = 10_000;

export async function policyBatchWorkflow(input: PolicyBatchInput): Promise<PolicyBatchResult> {
  const retry = resolveRetryOptions(input.retry);
  const problems = validateRetryOptions(retry);
  if (input.devices.length > MAX_BATCH_SIZE) problems.push(`a batch holds at most ${MAX_BATCH_SIZE} devices`);
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(
      `Invalid batch input: ${problems.join('; ')}`,
      RunFailureCode.InvalidInput,
    );

  // Temporal adds no jitter to retries; the activity sets nextRetryDelay (with jitter, or Retry-After) itself,
  // which overrides these intervals. The intervals remain the fallback for errors it does not classify.
  const durable = (maximumAttempts: number) =>
    proxyActivities<PolicySyncActivities>({
      startToCloseTimeout: retry.startToCloseTimeoutInMs,
      scheduleToCloseTimeout: retry.scheduleToCloseTimeoutInMs,
      retry: {
        initialInterval: retry.initialIntervalInMs,
        backoffCoefficient: retry.backoffCoefficient,
        maximumInterval: retry.maximumIntervalInMs,
        maximumAttempts,
        nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
      },
    }).applySecurityPolicy;
  const applyDurably = durable(retry.maximumAttempts);
  const { applySecurityPolicy: applyLocally } = proxyLocalActivities<PolicySyncActivities>({
    startToCloseTimeout: retry.startToCloseTimeoutInMs,
    retry: { maximumAttempts: 1 },
    // A cancelled batch ends only once its writes have stopped (the SDK's unset value means TRY_CANCEL).
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const localFirst = retry.localFirstAttempt && patched(LOCAL_FIRST_ATTEMPT_PATCH);
  const deviceRetry = {
    backoff: {
      initialIntervalInMs: retry.initialIntervalInMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumIntervalInMs: retry.maximumIntervalInMs,
    },
    // Only informs the activity's logging and its within-attempt tries (inputs are not compared on replay).
    maximumAttempts: retry.maximumAttempts,
  };
  const coalesce = patched(COALESCED_PROGRESS_PATCH);
  const reporter = new ProgressReporter(
    input,
    input.reportEvery ?? SYNC_DEFAULTS.reportEvery,
    coalesce,
    coalesce && patched(FINAL_OUTCOMES_IN_RESULT_PATCH),
  );

  const absent = new Set(input.absent ?? []);
  // After the local first attempts: the devices the gate held go together in one activity (see HeldDevices).
  const groupsHeld = localFirst && patched(GROUPED_HOLD_PATCH);
  const { applySecurityPolicies: applyTogether } = proxyActivities<PolicySyncActivities>({
    startToCloseTimeout: retry.startToCloseTimeoutInMs,
    // The group heartbeats every 2 s: a lost worker is noticed in 10 s, and its last heartbeat says what it did.
    heartbeatTimeout: GROUP_HEARTBEAT_TIMEOUT_MS,
    // A group that fails as a whole hands each device to its own durable activity instead.
    retry: { maximumAttempts: 1 },
    // A cancelled batch ends once the group has stopped writing.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const held = new HeldDevices(input.devices.length, (devices) =>
    applyTogether.executeWithOptions(
      { summary: `${devices.length} devices held at the authorization gate` },
      [{ hub: input.hub, target: input.target, snapshotId: input.snapshotId, ...deviceRetry, devices }],
    ),
  );

  /**
   * One local try; on a retryable failure, its delay, then the durable activity with the attempts left (after
   * the group's try, for a device the gate held). `handedOver.prior` is set when a durable activity took over
   * (what the attempts before it came to).
   */
  async function write(
    device: DeviceAssignment,
    index: number,
    args: ApplyPolicyInput,
    handedOver: { prior?: AttemptCounters },
  ): Promise<ApplyPolicyResult> {
    if (!localFirst) return applyDurably.executeWithOptions({ summary: device.deviceId }, [args]);
    let next: DurableRetry | undefined;
    let grouped: Promise<GroupedDeviceResult | undefined> | undefined;
    try {
      return await applyLocally.executeWithOptions({ summary: `${device.deviceId} (local first attempt)` }, [
        args,
      ]);
    } catch (error) {
      next = durableRetryAfterLocalAttempt(error, retry.initialIntervalInMs);
      if (!next || retry.maximumAttempts - next.prior.attempts < 1) throw error;
      reporter.retrying(device.deviceId, next.prior);
      handedOver.prior = next.prior;
      if (groupsHeld && heldAtGate(error))
        grouped = held.hold(
          {
            deviceId: device.deviceId,
            policy: device.policy,
            prior: next.prior,
            ...(args.observedAbsent ? { observedAbsent: true } : {}),
          },
          index,
        );
    } finally {
      held.settled();
    }
    if (!next) throw new Error('unreachable: a local attempt that failed leaves a durable retry');
    // Only a held device waits for its group here: another's timer must start in the same step as before (the
    // order of commands is what replay checks).
    if (grouped) {
      const result = await grouped;
      if (result?.written) return result.written;
      if (result?.failed) {
        const { type, message, counters } = result.failed;
        throw ApplicationFailure.create({ type, message, nonRetryable: true, details: [counters] });
      }
      if (result?.handOn) {
        next = result.handOn;
        handedOver.prior = next.prior;
        reporter.retrying(device.deviceId, next.prior);
      }
    }
    // A live group hands a device on only with tries left; a lost one may have spent them (and 0 would mean
    // unlimited to Temporal).
    const attemptsLeft = retry.maximumAttempts - next.prior.attempts;
    if (attemptsLeft < 1) {
      delete handedOver.prior; // no try follows these counters: the failure's details are the outcome's
      throw ApplicationFailure.create({
        type: OutcomeCode.Timeout,
        message: `its ${next.prior.attempts} tries were spent in a group of held devices that was lost (its worker stopped)`,
        nonRetryable: true,
        details: [next.prior],
      });
    }
    // Within the device's time budget, whatever a Retry-After asked for. A group's hand-on without a delay (a
    // write stopped at its deadline, a lost group) goes at once: a timer would add a second on the dev server.
    if (!(grouped && next.delayInMs <= 0))
      await sleep(Math.min(next.delayInMs, retry.scheduleToCloseTimeoutInMs));
    return durable(attemptsLeft).executeWithOptions({ summary: device.deviceId }, [
      { ...args, prior: next.prior },
    ]);
  }

  async function apply(device: DeviceAssignment, index: number): Promise<DeviceOutcome> {
    let outcome: DeviceOutcome;
    const handedOver: { prior?: AttemptCounters } = {};
    try {
      const result = await write(
        device,
        index,
        {
          hub: input.hub,
          deviceId: device.deviceId,
          policy: device.policy,
          target: input.target,
          snapshotId: input.snapshotId,
          ...deviceRetry,
          ...(absent.has(device.deviceId) ? { observedAbsent: true } : {}),
        },
        handedOver,
      );
      outcome = outcomeFromResult(device.deviceId, result, new Date().toISOString());
    } catch (error) {
      if (isCancellation(error)) throw error;
      outcome = outcomeFromFailure(device.deviceId, error, retry.maximumAttempts, handedOver.prior);
    }
    reporter.add(outcome);
    return outcome;
  }

  const outcomes = await Promise.all(input.devices.map(apply));
  // A signal still on its way goes first: completing while its answer arrives would fail the workflow task.
  await reporter.drained();
  return { batchNumber: input.batchNumber, outcomes };
}

/**
 * Sends outcomes to the parent by signal every `reportEvery` devices (and, with `finalInResult` off, with the last
 * device: otherwise the batch's result carries the last ones), one signal at a
 * time. With `coalesce`, outcomes that arrive while a signal is on its way go together in the next one (local
 * first attempts tend to finish together, and each signal is a round trip); without it (histories from before
 * the patch), each step's outcomes wait for their own signal. A signal that cannot be delivered is only
 * logged: the batch's result carries every outcome too.
 */
class ProgressReporter {
  private pending: DeviceOutcome[] = [];
  private done = 0;
  private inFlight = false;
  /** Devices whose first attempt failed and that are being retried, with that attempt's counters. */
  private readonly retryingDevices = new Map<string, AttemptCounters>();
  /** Devices that started retrying since the last report (they make a report due, like outcomes). */
  private newlyRetrying = 0;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly input: PolicyBatchInput,
    private readonly reportEvery: number,
    private readonly coalesce: boolean,
    /** The last outcomes go in the batch's result only (coalescing reporters). */
    private readonly finalInResult = false,
  ) {}

  add(outcome: DeviceOutcome): void {
    this.retryingDevices.delete(outcome.deviceId);
    this.pending.push(outcome);
    this.done += 1;
    this.sendIfDue();
  }

  /** A device's first attempt failed and it goes on to the durable activity (coalescing reporters only). */
  retrying(deviceId: string, counters: AttemptCounters): void {
    if (!this.coalesce) return;
    this.retryingDevices.set(deviceId, counters);
    this.newlyRetrying += 1;
    this.sendIfDue();
  }

  /** Resolves once every outcome added so far has been sent (or its signal has failed). */
  async drained(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.sending;
      await seen;
    } while (seen !== this.sending); // a send that finished may have started the next one
  }

  private sendIfDue(): void {
    const final = this.done === this.input.devices.length;
    const changes = this.pending.length + this.newlyRetrying;
    if (changes === 0 || (changes < this.reportEvery && !final)) return;
    if (final && this.finalInResult) {
      // The batch returns now: its result carries these outcomes to the parent, a signal would only delay it.
      this.pending = [];
      this.newlyRetrying = 0;
      return;
    }
    const outcomes = this.pending;
    this.pending = [];
    if (!this.coalesce) {
      this.sending = this.sending.then(() => this.send(outcomes, final));
      return;
    }
    if (this.inFlight) {
      this.pending = outcomes; // goes with the next signal
      return;
    }
    this.inFlight = true;
    this.newlyRetrying = 0;
    this.sending = this.send(outcomes, final, this.retryingTally()).then(() => {
      this.inFlight = false;
      this.sendIfDue();
    });
  }

  private retryingTally(): RetryingTally {
    const tally: RetryingTally = { devices: 0, attempts: 0, authErrors: 0 };
    for (const counters of this.retryingDevices.values()) {
      tally.devices += 1;
      tally.attempts += counters.attempts;
      tally.authErrors += counters.authErrors;
    }
    return tally;
  }

  private async send(outcomes: DeviceOutcome[], final: boolean, retrying?: RetryingTally): Promise<void> {
    const parent = getExternalWorkflowHandle(this.input.parentWorkflowId);
    const progress: BatchProgress = {
      batchNumber: this.input.batchNumber,
      outcomes,
      final,
      ...(retrying ? { retrying } : {}),
    };
    try {
      await parent.signal(batchProgressSignal, progress);
    } catch (error) {
      if (isCancellation(error)) return; // the batch is being cancelled; nothing left to report
      log.warn('Could not report progress to the parent; its result will carry the outcomes', {
        parentWorkflowId: this.input.parentWorkflowId,
        batch: workflowInfo().workflowId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
