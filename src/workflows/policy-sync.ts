/**
 * policySyncWorkflow: the parent, one per hub sync. Preflight (wait for RBAC propagation), load the inventory,
 * then a sliding window of policyBatchWorkflow children over it, continue-as-new when the history grows.
 * See ./README.md for the semantics of counts, reruns, alerts and abort.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  condition,
  ContinueAsNew,
  executeChild,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { PolicySyncActivities } from '../domain/activity-contract';
import { innermostCause } from '../domain/cause-chain';
import {
  abortThresholdExceeded,
  abortThresholdMessage,
  ALERT_IDS,
  authErrorRateExceeded,
  authErrorRateMessage,
  makeAlert,
  permissionsNotPropagatedMessage,
} from './alert-rules';
import { failedWithoutAttempt, sanitizeMessage } from './device-outcome';
import { FailureLedger, LISTING_BUDGET, SUMMARY_BUDGET, utf8Length } from './failure-ledger';
import {
  FailureType,
  NON_RETRYABLE_FAILURE_TYPES,
  OutcomeCode,
  RunFailureCode,
} from '../domain/failure-codes';
import { complementRanges, nextPage, offsetsToRanges, rangesSize } from './inventory-ranges';
import {
  acknowledgeAlertSignal,
  alertsQuery,
  batchProgressSignal,
  failuresQuery,
  metricsQuery,
  pauseSignal,
  rerunSignal,
  resumeSignal,
} from './messages';
import {
  countOutcome,
  emptyCounters,
  failureOf,
  planWrites,
  retryingTallyOf,
  toSyncMetrics,
  uncountFailures,
  withRetrying,
} from './metrics';
import {
  CURRENT_DEFAULTS,
  resolveSyncOptions,
  V1_DEFAULTS,
  validateRerunRequest,
  validateSyncInput,
  type ResolvedSyncOptions,
} from './options';
import { policyBatchWorkflow } from './policy-batch';
import { nextPreflightWait } from './preflight-backoff';
import { progressTable } from './progress-table';
import { iotHubSearchAttribute, policySyncPhaseSearchAttribute } from './search-attributes';
import type {
  AlertKind,
  AlertRecord,
  BatchProgress,
  CarriedState,
  DeviceAssignment,
  DeviceOutcome,
  InventoryRange,
  InventorySnapshot,
  PermissionReport,
  PolicySyncInput,
  Rejection,
  RerunRequest,
  RetryingTally,
  RunSummary,
  SyncCounters,
  SyncMetrics,
  SyncPhase,
} from './types';

/**
 * Marks runs whose unset options take today's defaults (window 10, preflight from 1 s, retries capped at 8 s ×
 * 30). Runs from before replay with V1_DEFAULTS: their page size and window are in their history.
 */
export const SYNC_DEFAULTS_V2_PATCH = 'sync-defaults-v2';
/** Marks runs that count their batches' `retrying` tallies (an alert may come earlier than it used to). */
export const LIVE_RETRYING_TALLY_PATCH = 'live-retrying-tally';

/** Unknown device ids of one rerun listed one by one in `rejected`; the rest are counted in one entry. */
const RERUN_REJECTIONS_LISTED = 100;

const controlRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
};
// Short start-to-close timeouts: these are quick reads, and a worker lost mid-call costs the sync this long.
const { readInventoryPage, findDevices } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '20 seconds',
  retry: controlRetry,
});
const { checkRolePropagation } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '30 seconds',
  retry: controlRetry,
});
const { loadInventory } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '10 minutes',
  retry: controlRetry,
});
// Bounded, because the sync waits for its alerts to be delivered before it ends.
const { sendAlert } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: controlRetry,
});

export async function policySyncWorkflow(input: PolicySyncInput): Promise<RunSummary> {
  const problems = validateSyncInput(input);
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(
      `Invalid policy sync input: ${problems.join('; ')}`,
      RunFailureCode.InvalidInput,
    );
  return new PolicySync(input).run();
}

interface RunningBatch {
  devices: DeviceAssignment[];
  deviceIds: Set<string>;
  /** Devices whose outcome is already counted (by a progress signal or the result). */
  counted: Set<string>;
  /** The batch's devices being retried, as of its last progress report. */
  retrying?: RetryingTally;
}

interface BufferedDevice {
  offset: number;
  device: DeviceAssignment;
}

/** The state of one sync, across continue-as-new. */
class PolicySync {
  private readonly options: ResolvedSyncOptions;
  private readonly workflowId = workflowInfo().workflowId;
  private readonly startedAt: string;
  private readonly startedAtMs: number;

  private phase: SyncPhase;
  private publishedPhase: string | undefined;
  private paused: boolean;
  private aborted: boolean;
  private detailsNote: string | undefined;

  private snapshot: InventorySnapshot | undefined;
  /** Inventory offsets not yet read. */
  private ranges: InventoryRange[];
  /** Read from the inventory, not yet batched (at most a page and a batch). */
  private buffer: BufferedDevice[] = [];
  /** Queued by reruns, not yet batched; batched before the inventory. */
  private queued: DeviceAssignment[];
  private readonly queuedIds: Set<string>;
  private nextBatchNumber: number;
  private readonly running = new Map<number, RunningBatch>();

  private counters: SyncCounters;
  private readonly failures: FailureLedger;
  private rejected: Rejection[];
  private alerts: AlertRecord[];
  private authErrorRateAlertRaised: boolean;
  private alertDeliveries = 0;
  private readonly rerunRequests: RerunRequest[] = [];
  /** Bumped by everything the main loop may wait for. */
  private changes = 0;
  /** Whether batches' `retrying` tallies count in the live metrics and the 403-rate alert. */
  private readonly countsRetrying: boolean;

  constructor(private readonly input: PolicySyncInput) {
    // Runs started before these changes replay with what they started with (see the patch constants).
    this.options = resolveSyncOptions(
      input,
      patched(SYNC_DEFAULTS_V2_PATCH) ? CURRENT_DEFAULTS : V1_DEFAULTS,
    );
    this.countsRetrying = patched(LIVE_RETRYING_TALLY_PATCH);
    this.publishedPhase = workflowInfo().typedSearchAttributes.get(policySyncPhaseSearchAttribute);
    const carried = input.carried;
    if (carried) {
      this.startedAt = carried.startedAt;
      this.startedAtMs = carried.startedAtMs;
      this.phase = 'syncing';
      this.snapshot = carried.inventorySnapshot;
      this.ranges = carried.inventoryRanges ?? [
        { from: carried.nextOffset, to: carried.inventorySnapshot.deviceCount },
      ];
      this.ranges = this.ranges.filter((range) => range.to > range.from);
      this.queued = carried.queued;
      this.nextBatchNumber = carried.nextBatchNumber;
      this.counters = carried.counters;
      this.failures = carried.failureLedger
        ? new FailureLedger(carried.failureLedger)
        : FailureLedger.fromFailures(carried.failures ?? []);
      this.rejected = carried.rejected;
      this.alerts = carried.alerts;
      this.paused = carried.paused;
      this.authErrorRateAlertRaised = carried.authFailureAlertRaised;
    } else {
      const start = workflowInfo().startTime;
      this.startedAt = start.toISOString();
      this.startedAtMs = start.getTime();
      this.phase = 'preflight';
      this.ranges = [];
      this.queued = [];
      this.nextBatchNumber = 1;
      this.counters = emptyCounters();
      this.failures = new FailureLedger();
      this.rejected = [];
      this.alerts = [];
      this.paused = false;
      this.authErrorRateAlertRaised = false;
    }
    this.queuedIds = new Set(this.queued.map((device) => device.deviceId));
    this.aborted = this.alerts.some((alert) => alert.kind === 'AbortThreshold');
  }

  async run(): Promise<RunSummary> {
    this.registerHandlers();
    try {
      if (!this.snapshot) {
        await this.preflight();
        await this.load();
      }
      this.setPhase('syncing');
      await this.syncDevices();
      this.setPhase('done');
      const summary = this.summary();
      log.info('Policy sync finished', {
        devicesTotal: summary.devicesTotal,
        succeeded: summary.succeeded,
        unchanged: summary.unchanged,
        failed: this.failures.size,
        durationMs: summary.durationMs,
      });
      return summary;
    } catch (error) {
      if (error instanceof ContinueAsNew) throw error;
      if (isCancellation(error)) {
        // The running batches were asked to cancel (WAIT_CANCELLATION_COMPLETED): end after they have.
        await CancellationScope.nonCancellable(() => condition(() => this.running.size === 0, '1 minute'));
      }
      this.setPhase('failed');
      throw error;
    }
  }

  // ── messages ──────────────────────────────────────────────────────────────────────────────────────────

  private registerHandlers(): void {
    setHandler(metricsQuery, () => this.metrics());
    setHandler(failuresQuery, () => this.failures.list());
    setHandler(alertsQuery, () => this.alerts.map((alert) => ({ ...alert })));
    setHandler(rerunSignal, (request) => {
      this.rerunRequests.push(request ?? {});
      this.changed();
    });
    setHandler(pauseSignal, () => this.setPaused(true));
    setHandler(resumeSignal, () => this.setPaused(false));
    setHandler(acknowledgeAlertSignal, (request) => this.acknowledgeAlert(request?.id));
    setHandler(batchProgressSignal, (progress) => this.onBatchProgress(progress));
  }

  private setPaused(paused: boolean): void {
    if (this.paused !== paused) log.info(paused ? 'Paused: no new batches start' : 'Resumed');
    this.paused = paused;
    this.publishPhase();
    this.changed();
  }

  private acknowledgeAlert(id: unknown): void {
    const index = this.alerts.findIndex((alert) => alert.id === id);
    const alert = this.alerts[index];
    if (!alert) {
      log.warn('acknowledgeAlert: no such alert', { id: String(id) });
      return;
    }
    this.alerts[index] = { ...alert, acknowledged: true };
    this.refreshDetails();
  }

  private onBatchProgress(progress: BatchProgress): void {
    // No running batch: a late report of a batch already reconciled from its result.
    const batch = this.running.get(progress?.batchNumber);
    if (!batch) return;
    batch.retrying = progress.final || !this.countsRetrying ? undefined : retryingTallyOf(progress.retrying);
    for (const outcome of progress.outcomes ?? []) this.count(batch, outcome);
    this.checkAuthErrorRate();
    this.refreshDetails();
  }

  // ── phases ────────────────────────────────────────────────────────────────────────────────────────────

  private async preflight(): Promise<void> {
    this.setPhase('preflight');
    const started = Date.now();
    for (let checks = 1; ; checks++) {
      const report = await checkRolePropagation({ target: this.input.target, hub: this.input.hub });
      if (report.granted) break;
      const waitedMs = Date.now() - started;
      const wait = nextPreflightWait(waitedMs, checks, this.options.preflight);
      if (wait === undefined) return this.failPermissionsNotPropagated(report, waitedMs);
      this.detailsNote = `Waiting for permissions to propagate; missing: ${report.missing.join(', ') || '(not reported)'}`;
      this.refreshDetails();
      log.info('Permissions not effective yet; checking again', {
        missing: report.missing,
        waitMs: wait,
        checks,
      });
      await sleep(wait);
    }
    this.detailsNote = undefined;
  }

  private async failPermissionsNotPropagated(report: PermissionReport, waitedMs: number): Promise<never> {
    const message = permissionsNotPropagatedMessage(report, waitedMs);
    this.raiseAlert('PermissionsNotPropagated', message);
    await condition(() => this.alertDeliveries === 0);
    throw ApplicationFailure.create({
      type: FailureType.PermissionsNotPropagated,
      message,
      nonRetryable: true,
      details: [
        { missing: report.missing, rolesAssigned: report.rolesAssigned, grantingRole: report.grantingRole },
      ],
    });
  }

  private async load(): Promise<void> {
    this.setPhase('loading');
    const result = await loadInventory({ deviceIds: this.input.deviceIds, hub: this.input.hub });
    this.snapshot = result.snapshot;
    this.rejected.push(...result.rejected);
    const unlisted = result.rejectedCount - result.rejected.length;
    if (unlisted > 0)
      this.rejected.push({
        source: 'inventory',
        row: 0,
        reason: `${unlisted} more rejected rows not listed`,
      });
    this.ranges = result.snapshot.deviceCount > 0 ? [{ from: 0, to: result.snapshot.deviceCount }] : [];
    this.counters = planWrites(this.counters, result.snapshot.deviceCount);
    log.info('Inventory loaded', { devices: result.snapshot.deviceCount, rejected: result.rejectedCount });
  }

  /** The sliding window: at most maxConcurrentBatches children; continue-as-new only with none running. */
  private async syncDevices(): Promise<void> {
    for (;;) {
      const seen = this.changes;
      if (this.rerunRequests.length > 0) {
        await this.processReruns();
        continue;
      }
      const { abortAfterAuthFailures } = this.options.alerts;
      if (!this.aborted && abortThresholdExceeded(this.authFailedDevices(), abortAfterAuthFailures))
        this.abort();

      const historyIsLarge = this.historyIsLarge();
      if (this.mayStartBatch() && !historyIsLarge) {
        if (this.queued.length + this.buffer.length < this.options.batchSize && this.ranges.length > 0) {
          await this.readNextPage();
        } else {
          this.startBatch(this.takeBatch());
          if (this.options.batchStartDelayInMs > 0) await sleep(this.options.batchStartDelayInMs);
        }
        continue;
      }
      if (this.running.size === 0) {
        if (this.aborted && this.hasPendingWork()) {
          await this.failPendingAsAborted();
          continue;
        }
        const settled = this.alertDeliveries === 0 && allHandlersFinished();
        if (settled && !this.hasPendingWork()) return;
        if (settled && historyIsLarge) await this.continueAsNew();
      }
      await condition(() => this.changes !== seen);
    }
  }

  private mayStartBatch(): boolean {
    return (
      !this.aborted &&
      !this.paused &&
      this.running.size < this.options.maxConcurrentBatches &&
      this.hasPendingWork()
    );
  }

  private hasPendingWork(): boolean {
    return this.queued.length > 0 || this.buffer.length > 0 || this.ranges.length > 0;
  }

  private historyIsLarge(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.options.continueAsNewAfterEvents;
  }

  // ── inventory and batches ─────────────────────────────────────────────────────────────────────────────

  private async readNextPage(): Promise<void> {
    const page = nextPage(this.ranges, this.options.pageSize);
    if (!page || !this.snapshot) return;
    const devices = await readInventoryPage({
      snapshotId: this.snapshot.id,
      offset: page.offset,
      limit: page.limit,
    });
    if (devices.length !== page.limit)
      throw ApplicationFailure.nonRetryable(
        `The inventory returned ${devices.length} devices at offset ${page.offset} instead of ${page.limit}`,
        FailureType.InventoryChanged,
      );
    this.ranges = page.rest;
    devices.forEach((device, i) => this.buffer.push({ offset: page.offset + i, device }));
  }

  /** Up to batchSize devices, reruns first; never the same device twice in one batch. */
  private takeBatch(): DeviceAssignment[] {
    const batch: DeviceAssignment[] = [];
    const ids = new Set<string>();
    const fits = (device: DeviceAssignment) =>
      batch.length < this.options.batchSize && !ids.has(device.deviceId);
    const keep = (device: DeviceAssignment) => {
      batch.push(device);
      ids.add(device.deviceId);
    };
    const queued: DeviceAssignment[] = [];
    for (const device of this.queued) {
      if (fits(device)) {
        keep(device);
        this.queuedIds.delete(device.deviceId);
      } else queued.push(device);
    }
    this.queued = queued;
    const buffer: BufferedDevice[] = [];
    for (const item of this.buffer) {
      if (fits(item.device)) keep(item.device);
      else buffer.push(item);
    }
    this.buffer = buffer;
    return batch;
  }

  private startBatch(devices: DeviceAssignment[]): void {
    const batchNumber = this.nextBatchNumber++;
    const batch: RunningBatch = {
      devices,
      deviceIds: new Set(devices.map((device) => device.deviceId)),
      counted: new Set(),
    };
    this.running.set(batchNumber, batch);
    void this.runBatch(batchNumber, batch);
  }

  /** Runs one child and reconciles its result with what its progress signals already counted. Never throws. */
  private async runBatch(batchNumber: number, batch: RunningBatch): Promise<void> {
    try {
      const result = await executeChild(policyBatchWorkflow, {
        workflowId: `${this.workflowId}/batch-${batchNumber}`,
        args: [
          {
            hub: this.input.hub,
            target: this.input.target,
            parentWorkflowId: this.workflowId,
            batchNumber,
            snapshotId: this.snapshot?.id ?? '',
            devices: batch.devices,
            retry: this.options.retry,
            reportEvery: this.options.reportEvery,
          },
        ],
        staticSummary: `batch ${batchNumber}: ${batch.devices.length} devices`,
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
      this.changed();
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
    this.record(outcome);
  }

  private record(outcome: DeviceOutcome): void {
    this.counters = countOutcome(this.counters, outcome);
    const failure = failureOf(outcome);
    if (failure) this.failures.add(failure);
    this.checkAuthErrorRate();
    this.refreshDetails();
    this.changed();
  }

  /** Finished devices plus the failed first attempts of devices still retrying. */
  private liveCounters(): SyncCounters {
    return withRetrying(
      this.counters,
      [...this.running.values()].map((batch) => batch.retrying),
    );
  }

  private checkAuthErrorRate(): void {
    if (this.authErrorRateAlertRaised) return;
    const live = this.liveCounters();
    if (!authErrorRateExceeded(live, this.options.alerts)) return;
    this.authErrorRateAlertRaised = true;
    this.raiseAlert('AuthErrorRate', authErrorRateMessage(live, this.options.alerts.authErrorRateThreshold));
  }

  // ── abort ─────────────────────────────────────────────────────────────────────────────────────────────

  private authFailedDevices(): number {
    return this.failures.countWithCode(FailureType.AuthorizationFailed);
  }

  private abort(): void {
    this.aborted = true;
    const { abortAfterAuthFailures } = this.options.alerts;
    this.raiseAlert(
      'AbortThreshold',
      abortThresholdMessage(this.authFailedDevices(), abortAfterAuthFailures),
    );
  }

  /** Every device not attempted is reported as failed with code Aborted: nothing silently dropped. */
  private async failPendingAsAborted(): Promise<void> {
    const message = 'Not attempted: the sync was aborted after too many AuthorizationFailed devices';
    const fail = (device: DeviceAssignment) =>
      this.record(failedWithoutAttempt(device.deviceId, OutcomeCode.Aborted, message));
    this.queued.splice(0).forEach(fail);
    this.queuedIds.clear();
    for (;;) {
      this.buffer.splice(0).forEach((item) => fail(item.device));
      if (this.ranges.length === 0) return;
      await this.readNextPage();
    }
  }

  // ── reruns ────────────────────────────────────────────────────────────────────────────────────────────

  private async processReruns(): Promise<void> {
    for (let request = this.rerunRequests.shift(); request; request = this.rerunRequests.shift())
      await this.processRerun(request);
  }

  private async processRerun(request: RerunRequest): Promise<void> {
    const problem = validateRerunRequest(request);
    if (problem) {
      this.rejected.push({ source: 'rerun', row: 0, reason: problem });
      return;
    }
    if (this.aborted) {
      this.rejected.push({
        source: 'rerun',
        row: 0,
        reason: 'The sync was aborted (AbortThreshold); start a new sync',
      });
      return;
    }
    log.info('Rerun requested', {
      failedOnly: request.failedOnly ?? false,
      devices: request.deviceIds?.length,
    });
    if (!request.failedOnly && request.deviceIds === undefined) return this.rerunWholeInventory();

    const failedIds = new Set(this.failures.deviceIds());
    const requested = request.deviceIds ? [...new Set(request.deviceIds)] : [...failedIds];
    const wanted = request.failedOnly ? requested.filter((id) => failedIds.has(id)) : requested;
    const { devices, unknown } = await this.findInInventory(wanted);
    for (const id of unknown.slice(0, RERUN_REJECTIONS_LISTED)) {
      const row = (request.deviceIds?.indexOf(id) ?? -1) + 1;
      this.rejected.push({ source: 'rerun', row, reason: `Device ${id} is not in the inventory` });
    }
    if (unknown.length > RERUN_REJECTIONS_LISTED) {
      this.rejected.push({
        source: 'rerun',
        row: 0,
        reason: `${unknown.length - RERUN_REJECTIONS_LISTED} more device ids of this rerun are not in the inventory (not listed)`,
      });
    }

    // Devices that failed come off the books and are written again. Other devices are extra writes — except
    // before the first batch, when every inventory device is still to be written anyway.
    const nothingBatchedYet = this.nextBatchNumber === 1;
    const requeue = devices.filter((device) => failedIds.has(device.deviceId));
    const extra = nothingBatchedYet ? [] : devices.filter((device) => !failedIds.has(device.deviceId));
    const requeueIds = new Set(requeue.map((device) => device.deviceId));
    this.counters = uncountFailures(this.counters, this.failures.remove(requeueIds));
    const added = [...requeue, ...extra].filter((device) => this.enqueue(device)).length;
    this.counters = planWrites(this.counters, added);
    this.refreshDetails();
  }

  /** `rerun {}`: every inventory device already taken is read again; the current failures come off the books. */
  private rerunWholeInventory(): void {
    const total = this.snapshot?.deviceCount ?? 0;
    const pending = [...this.ranges, ...offsetsToRanges(this.buffer.map((item) => item.offset))];
    const taken = complementRanges(pending, total);
    this.counters = uncountFailures(this.counters, this.failures.clear());
    this.ranges = [...this.ranges, ...taken];
    this.counters = planWrites(this.counters, rangesSize(taken));
    this.refreshDetails();
  }

  private enqueue(device: DeviceAssignment): boolean {
    if (this.queuedIds.has(device.deviceId)) return false;
    this.queuedIds.add(device.deviceId);
    this.queued.push(device);
    return true;
  }

  /** findDevices a page at a time, so that no activity result holds more than a page of devices. */
  private async findInInventory(ids: string[]): Promise<{ devices: DeviceAssignment[]; unknown: string[] }> {
    const devices: DeviceAssignment[] = [];
    const unknown: string[] = [];
    for (let i = 0; i < ids.length && this.snapshot; i += this.options.pageSize) {
      const chunk = ids.slice(i, i + this.options.pageSize);
      const found = await findDevices({ snapshotId: this.snapshot.id, deviceIds: chunk });
      devices.push(...found.devices);
      unknown.push(...found.unknown);
    }
    return { devices, unknown };
  }

  // ── alerts ────────────────────────────────────────────────────────────────────────────────────────────

  /** Records the alert (once per kind per sync) and sends it through the sendAlert activity. */
  private raiseAlert(kind: AlertKind, message: string): void {
    if (this.alerts.some((alert) => alert.id === ALERT_IDS[kind])) return;
    const alert = makeAlert(kind, message, new Date().toISOString());
    this.alerts.push(alert);
    log.warn('Alert raised', { id: alert.id, kind, message });
    this.refreshDetails();
    this.alertDeliveries += 1;
    void this.deliver(alert);
  }

  private async deliver(alert: AlertRecord): Promise<void> {
    try {
      await sendAlert({ hub: this.input.hub, workflowId: this.workflowId, alert });
    } catch (error) {
      if (!isCancellation(error))
        log.error('Alert could not be delivered', {
          id: alert.id,
          error: error instanceof Error ? error.message : String(error),
        });
    } finally {
      this.alertDeliveries -= 1;
      this.changed();
    }
  }

  // ── continue-as-new ───────────────────────────────────────────────────────────────────────────────────

  private async continueAsNew(): Promise<never> {
    const pending = [...offsetsToRanges(this.buffer.map((item) => item.offset)), ...this.ranges];
    const carried: CarriedState = {
      startedAt: this.startedAt,
      startedAtMs: this.startedAtMs,
      inventorySnapshot: this.snapshot ?? { id: '', deviceCount: 0 },
      nextOffset: pending[0]?.from ?? this.snapshot?.deviceCount ?? 0,
      inventoryRanges: pending,
      queued: this.queued,
      nextBatchNumber: this.nextBatchNumber,
      counters: this.counters,
      failureLedger: this.failures.state(),
      rejected: this.rejected,
      alerts: this.alerts,
      paused: this.paused,
      authFailureAlertRaised: this.authErrorRateAlertRaised,
    };
    log.info('Continuing as new', {
      historyLength: workflowInfo().historyLength,
      nextBatchNumber: this.nextBatchNumber,
      devicesDone: this.counters.devicesDone,
    });
    // deviceIds only served loadInventory; the snapshot now stands for them.
    const next = makeContinueAsNewFunc<typeof policySyncWorkflow>({
      typedSearchAttributes: workflowInfo().typedSearchAttributes,
    });
    return next({ ...this.input, deviceIds: undefined, carried });
  }

  // ── what the world sees ───────────────────────────────────────────────────────────────────────────────

  private visiblePhase(): SyncPhase {
    return this.phase === 'syncing' && this.paused ? 'paused' : this.phase;
  }

  private setPhase(phase: SyncPhase): void {
    this.phase = phase;
    this.publishPhase();
  }

  /** Keeps the PolicySyncPhase search attribute (and IotHub, if the starter did not set it) current. */
  private publishPhase(): void {
    const phase = this.visiblePhase();
    if (phase !== this.publishedPhase) {
      const updates: SearchAttributeUpdatePair[] = [{ key: policySyncPhaseSearchAttribute, value: phase }];
      if (workflowInfo().typedSearchAttributes.get(iotHubSearchAttribute) !== this.input.hub)
        updates.push({ key: iotHubSearchAttribute, value: this.input.hub });
      upsertSearchAttributes(updates);
      this.publishedPhase = phase;
    }
    this.refreshDetails();
  }

  private refreshDetails(): void {
    setCurrentDetails(progressTable(this.metrics(), this.detailsNote));
  }

  private changed(): void {
    this.changes += 1;
  }

  private metrics(): SyncMetrics {
    return toSyncMetrics(this.liveCounters(), this.visiblePhase(), this.startedAt, this.alerts);
  }

  /** What the summary's failure list may take: the payload budget less the rejections and alerts beside it. */
  private failureListingBudget(): number {
    const rest = utf8Length(JSON.stringify([this.rejected, this.alerts]));
    return Math.max(0, Math.min(LISTING_BUDGET, SUMMARY_BUDGET - rest));
  }

  private summary(): RunSummary {
    return {
      workflowId: this.workflowId,
      hub: this.input.hub,
      target: this.input.target,
      devicesTotal: this.counters.devicesTotal,
      succeeded: this.counters.successCount,
      unchanged: this.counters.unchangedCount,
      failed: this.failures
        .list(this.failureListingBudget())
        .map(({ deviceId, code, message }) => ({ deviceId, code, message })),
      rejected: this.rejected,
      authErrors: this.counters.authErrors,
      throttled: this.counters.throttledCount,
      durationMs: Date.now() - this.startedAtMs,
      alerts: this.alerts,
    };
  }
}
