/**
 * Signals and queries of policySyncWorkflow: one sandbox-safe module that the workflows, the CLI, the tests
 * and the Temporal CLI's users (by name) share.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  AcknowledgeAlertRequest,
  AlertRecord,
  BatchProgress,
  DeviceFailure,
  RerunRequest,
  SyncMetrics,
} from './types';

/** Live counts of the whole sync (across continue-as-new). */
export const metricsQuery = defineQuery<SyncMetrics>('metrics');
/** Devices that failed and are not queued again, with their last error. */
export const failuresQuery = defineQuery<DeviceFailure[]>('failures');
/** Alerts raised by this sync, acknowledged or not. */
export const alertsQuery = defineQuery<AlertRecord[]>('alerts');

/**
 * Queue devices again within the running sync.
 * `{ failedOnly: true }`: the current failures; `{ deviceIds }`: those devices (both: the failed ones among
 * them); `{}`: the whole inventory. Devices a run has not reached yet are not written twice.
 */
export const rerunSignal = defineSignal<[RerunRequest?]>('rerun');
/** Hold the start of new batches; running batches finish. */
export const pauseSignal = defineSignal('pause');
/** Release the start of new batches. */
export const resumeSignal = defineSignal('resume');
/** Mark an alert as seen by an operator. */
export const acknowledgeAlertSignal = defineSignal<[AcknowledgeAlertRequest]>('acknowledgeAlert');

/** Internal: a batch reports outcomes to its parent (by workflow id, which survives continue-as-new). */
export const batchProgressSignal = defineSignal<[BatchProgress]>('batchProgress');
