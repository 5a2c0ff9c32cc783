/**
 * policySyncWorkflow: the parent, one per hub sync. Preflight (wait for RBAC propagation), load the inventory,
 * then a sliding window of policyBatchWorkflow children over it, continue-as-new when the history grows. It
 * orchestrates device-backlog, reruns, carried-state, batch-window and sync-alerts. See ./README.md.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  isCancellation,
  log,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { FailureType, OutcomeCode, RunFailureCode } from '../domain/failure-codes';
import type { AlertKind } from '../domain/alerts';
import { acknowledge, DeviceAnswers } from './ack-phase';
import type { PermissionReport } from '../domain/permissions';
import {
  abortThresholdExceeded,
  abortThresholdMessage,
  authErrorRateExceeded,
  authErrorRateMessage,
  permissionsNotPropagatedMessage,
} from './alert-rules';
import { BatchWindow } from './batch-window';
import { restoreState, startFromInventory, type SyncState } from './carried-state';
import { continueSyncAsNew } from './continue-as-new';
import { optionDefaults } from './option-defaults';
import { failedWithoutAttempt } from './device-outcome';
import {
  controlRetry,
  findInInventory,
  loadInventory,
  readPage,
  sendAlert,
  sendAlertBounded,
  waitForPermissions,
} from './control-activities';
import { finalActivityFailure, permissionsNotPropagatedFailure } from './final-failure';
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
import { countDrift, countOutcome, failureOf, isDrift, toSyncMetrics, withRetrying } from './metrics';
import { readReconciledPage, RECONCILE_OBSERVATION_PATCH } from './observed-pages';
import type { ObservedVerdict } from './device-backlog';
import {
  LIVE_RETRYING_TALLY_PATCH,
  resolveSyncOptions,
  validateSyncInput,
  type ResolvedSyncOptions,
} from './options';
import { applyRerun } from './reruns';
import { runSummary, summaryLogFields } from './run-summary';
import { nextStep, type SyncStep } from './sync-loop';
import { SyncView } from './sync-phase';
import { SyncAlerts } from './sync-alerts';
import type {
  DeviceOutcome,
  PolicySyncInput,
  RerunRequest,
  RunSummary,
  SyncCounters,
  SyncMetrics,
  SyncPhase,
} from './types';

export async function policySyncWorkflow(input: PolicySyncInput): Promise<RunSummary> {
  const problems = validateSyncInput(input);
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(
      `Invalid policy sync input: ${problems.join('; ')}`,
      RunFailureCode.InvalidInput,
    );
  return new PolicySync(input).run();
}

/** One run of a sync: the state it restored, and what only lives as long as the run. */
class PolicySync {
  private readonly options: ResolvedSyncOptions;
  private readonly workflowId = workflowInfo().workflowId;
  private readonly state: SyncState;
  private readonly batches: BatchWindow;
  private readonly alerts: SyncAlerts;
  private readonly view: SyncView;
  private readonly rerunRequests: RerunRequest[] = [];
  /** Twin target: the devices' answers (the acknowledgement phase). */
  private readonly answers: DeviceAnswers;

  constructor(private readonly input: PolicySyncInput) {
    // Runs started before these changes replay with what they started with (see the patch constants).
    this.options = resolveSyncOptions(input, optionDefaults());
    const countsRetrying = patched(LIVE_RETRYING_TALLY_PATCH);
    this.view = new SyncView(input.carried ? 'syncing' : 'preflight', {
      hub: input.hub,
      paused: () => this.state.paused,
      metrics: (phase) => this.metricsAt(phase),
    });
    // Syncs of named devices (--devices) write those devices: they read each one, not the observation.
    const reconciles =
      patched(RECONCILE_OBSERVATION_PATCH) && (input.carried !== undefined || input.deviceIds === undefined);
    this.state = restoreState(input.carried, workflowInfo().startTime, reconciles);
    this.alerts = new SyncAlerts(this.state.alerts, (alert, bounded) =>
      (bounded ? sendAlertBounded : sendAlert)({ hub: input.hub, workflowId: this.workflowId, alert }),
    );
    const { retry, reportEvery } = this.options;
    this.batches = new BatchWindow({
      ...{ workflowId: this.workflowId, hub: input.hub, target: input.target, retry, reportEvery },
      countsRetrying,
      record: (outcome, verdict) => this.record(outcome, verdict),
    });
    this.answers = new DeviceAnswers({
      holding: () => this.state.counters.successCount + this.state.counters.unchangedCount,
      threshold: this.options.alerts.deviceRejectionRateThreshold,
      raiseAlert: (kind, message) => this.raiseAlert(kind, message),
      changed: () => this.view.refresh(),
    });
  }

  async run(): Promise<RunSummary> {
    this.registerHandlers();
    try {
      if (!this.state.snapshot) {
        await this.preflight();
        await this.load();
      }
      this.view.setPhase('syncing');
      await this.syncDevices();
      const waited = await acknowledge({
        ...{ input: this.input, snapshotId: this.state.snapshot?.id, answers: this.answers },
        deadlineInMs: this.options.ackDeadlineInMs,
        rerunsPending: () => this.rerunRequests.length > 0,
        setPhase: (phase) => this.view.setPhase(phase),
        syncDevices: () => this.syncDevices(),
      });
      // A DeviceRejections alert raised while waiting is delivered like the others.
      if (waited) await this.alerts.settle();
      this.view.setPhase('done');
      const answers = this.answers.forSummary();
      const summary = runSummary(
        this.workflowId,
        this.input,
        this.state,
        this.alerts.records,
        Date.now(),
        answers,
      );
      log.info('Policy sync finished', summaryLogFields(summary, this.state.failures.size));
      return summary;
    } catch (error) {
      if (error instanceof ContinueAsNew) throw error;
      if (isCancellation(error)) {
        // The running batches were asked to cancel (WAIT_CANCELLATION_COMPLETED): end after they have.
        await CancellationScope.nonCancellable(() => condition(() => this.batches.size === 0, '1 minute'));
      }
      this.view.setPhase('failed');
      // An activity that failed for good ends the sync: its last attempt's "will retry" is no longer true.
      throw finalActivityFailure(error, controlRetry.maximumAttempts);
    }
  }

  private registerHandlers(): void {
    setHandler(metricsQuery, () => this.view.metrics());
    setHandler(failuresQuery, () => this.state.failures.list());
    setHandler(alertsQuery, () => this.alerts.records.map((alert) => ({ ...alert })));
    setHandler(rerunSignal, (request) => void this.rerunRequests.push(request ?? {}));
    setHandler(pauseSignal, () => this.setPaused(true));
    setHandler(resumeSignal, () => this.setPaused(false));
    setHandler(acknowledgeAlertSignal, (request) => {
      if (!this.alerts.acknowledge(request?.id)) return;
      this.view.refresh();
      this.view.publishMemo();
    });
    setHandler(batchProgressSignal, (progress) => {
      if (!this.batches.onProgress(progress)) return;
      this.checkAuthErrorRate();
      this.view.refresh();
    });
  }

  private setPaused(paused: boolean): void {
    if (this.state.paused !== paused) log.info(paused ? 'Paused: no new batches start' : 'Resumed');
    this.state.paused = paused;
    this.view.publish();
  }

  private async preflight(): Promise<void> {
    this.view.setPhase('preflight');
    const refused = await waitForPermissions(this.input, this.options.preflight, (note) => {
      this.view.note = note;
      this.view.refresh();
    });
    if (refused) return this.failPermissionsNotPropagated(refused.report, refused.waitedInMs);
    this.view.note = undefined;
  }

  private async failPermissionsNotPropagated(report: PermissionReport, waitedInMs: number): Promise<never> {
    const message = permissionsNotPropagatedMessage(report, waitedInMs);
    this.raiseAlert('PermissionsNotPropagated', message);
    await this.alerts.settle();
    throw permissionsNotPropagatedFailure(report, message);
  }

  private async load(): Promise<void> {
    this.view.setPhase('loading');
    const result = await loadInventory({ deviceIds: this.input.deviceIds, hub: this.input.hub });
    startFromInventory(this.state, result);
    log.info('Inventory loaded', { devices: result.snapshot.deviceCount, rejected: result.rejectedCount });
  }

  /**
   * The sliding window: at most maxConcurrentBatches children; continue-as-new only with none running. Does
   * what nextStep says until it says wait, then waits on the state (not on a count of changes).
   */
  private async syncDevices(): Promise<void> {
    for (;;) {
      const step = this.nextStep();
      if (step === 'wait') await condition(() => this.nextStep() !== 'wait');
      else if (step === 'rerun') await this.processRerun(this.rerunRequests.shift() ?? {});
      else if (step === 'abort') {
        const limit = this.options.alerts.abortAfterAuthFailures;
        this.raiseAlert('AbortThreshold', abortThresholdMessage(this.authFailedDevices(), limit));
      } else if (step === 'read') await this.readNextPage();
      else if (step === 'batch') {
        const { devices, verdicts } = this.state.backlog.takeJudgedBatch(this.options.batchSize);
        this.batches.start(this.state.nextBatchNumber++, this.state.snapshot?.id ?? '', devices, verdicts);
        if (this.options.batchStartDelayInMs > 0) await sleep(this.options.batchStartDelayInMs);
      } else if (step === 'failAborted') await this.failPendingAsAborted();
      else if (step === 'drainAlerts') {
        // A webhook that does not answer must not hold the end of the sync (in runs that bound the wait).
        if (await this.alerts.settle(() => this.rerunRequests.length > 0)) return;
      } else if (step === 'done') return;
      else await continueSyncAsNew(this.input, this.state);
    }
  }

  private nextStep(): SyncStep {
    const { backlog, paused } = this.state;
    const { alerts, maxConcurrentBatches, batchSize } = this.options;
    return nextStep({
      rerunsPending: this.rerunRequests.length > 0,
      aborted: this.alerts.has('AbortThreshold'),
      abortThresholdExceeded: abortThresholdExceeded(this.authFailedDevices(), alerts.abortAfterAuthFailures),
      ...{ paused, runningBatches: this.batches.size, maxConcurrentBatches },
      ...{ pending: backlog.hasPending(), needsPage: backlog.needsPage(batchSize) },
      historyIsLarge: this.historyIsLarge(),
      deliveriesInFlight: this.alerts.deliveriesInFlight > 0,
      handlersFinished: allHandlersFinished(),
    });
  }

  private historyIsLarge(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.options.continueAsNewAfterEvents;
  }

  private async readNextPage(): Promise<void> {
    const page = this.state.backlog.nextPage(this.options.pageSize);
    if (!page || !this.state.snapshot) return;
    if (this.state.reconciles) {
      const { hub, target } = this.input;
      await readReconciledPage(this.state, { hub, target, workflowId: this.workflowId }, page);
      this.view.refresh();
      return;
    }
    this.state.backlog.addPage(page, await readPage(this.state.snapshot.id, page));
  }

  /** Finished devices plus the failed first attempts of devices still retrying. */
  private liveCounters(): SyncCounters {
    return withRetrying(this.state.counters, this.batches.retryingTallies());
  }

  private checkAuthErrorRate(): void {
    if (this.state.authErrorRateAlertRaised) return;
    const live = this.liveCounters();
    if (!authErrorRateExceeded(live, this.options.alerts)) return;
    this.state.authErrorRateAlertRaised = true;
    this.raiseAlert('AuthErrorRate', authErrorRateMessage(live, this.options.alerts.authErrorRateThreshold));
  }

  private raiseAlert(kind: AlertKind, message: string): void {
    if (!this.alerts.raise(kind, message)) return;
    this.view.refresh();
    this.view.publishMemo();
  }

  private authFailedDevices(): number {
    return this.state.failures.countWithCode(FailureType.AuthorizationFailed);
  }

  /** Every device not attempted is reported as failed with code Aborted: nothing silently dropped. */
  private async failPendingAsAborted(): Promise<void> {
    const message = 'Not attempted: the sync was aborted after too many AuthorizationFailed devices';
    for (;;) {
      for (const device of this.state.backlog.takeReadDevices())
        this.record(failedWithoutAttempt(device.deviceId, OutcomeCode.Aborted, message));
      if (!this.state.backlog.hasPending()) return;
      await this.readNextPage();
    }
  }

  /** `verdict`: what the bulk observation said of the device before its batch, if it judged it. */
  private record(outcome: DeviceOutcome, verdict?: ObservedVerdict): void {
    this.state.counters = countOutcome(this.state.counters, outcome);
    if (isDrift(outcome, verdict)) this.state.counters = countDrift(this.state.counters, 1);
    const failure = failureOf(outcome);
    if (failure) this.state.failures.add(failure);
    this.checkAuthErrorRate();
    this.view.refresh();
  }

  private async processRerun(request: RerunRequest): Promise<void> {
    const { pageSize } = this.options;
    const snapshotId = this.state.snapshot?.id ?? '';
    const find = (ids: string[]) => findInInventory(snapshotId, ids, pageSize);
    const kind = await applyRerun(this.state, request, this.alerts.has('AbortThreshold'), find);
    if (kind === 'refused') return;
    log.info('Rerun requested', {
      failedOnly: request.failedOnly ?? false,
      devices: request.deviceIds?.length,
    });
    this.view.refresh();
  }

  private metricsAt(phase: SyncPhase): SyncMetrics {
    const metrics = toSyncMetrics(this.liveCounters(), phase, this.state.startedAt, this.alerts.records);
    const { counts } = this.answers;
    return { ...metrics, target: this.input.target, ...(counts ? { compliance: { ...counts } } : {}) };
  }
}
