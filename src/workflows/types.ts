/**
 * The data that crosses the workflow boundary: inputs, results, signals and query answers.
 * Sandbox-safe (no Node imports). Nothing here may ever hold a token or a secret.
 */
import type { FailureLedgerState } from './failure-ledger';

export const POLICY_TARGETS = ['arm', 'twin'] as const;
export type PolicyTarget = (typeof POLICY_TARGETS)[number];

export const SYNC_PHASES = ['preflight', 'loading', 'syncing', 'paused', 'done', 'failed'] as const;
export type SyncPhase = (typeof SYNC_PHASES)[number];

/** One device and the name of the policy it should hold. Policy documents never enter history. */
export interface DeviceAssignment {
  deviceId: string;
  policy: string;
}

/** A row of the inventory that was refused, with where it came from and why. */
export interface Rejection {
  /** File path, `hub`, or `--devices`. */
  source: string;
  /** 1-based row (data row for CSV/JSON arrays); 0 when the whole source is refused. */
  row: number;
  reason: string;
}

export interface PreflightOptions {
  /** @default 2000 */
  firstRecheckInMs?: number;
  /** @default 60000 */
  maxRecheckInMs?: number;
  /** @default 1800000 (30 minutes) */
  timeoutInMs?: number;
}

export interface AlertOptions {
  /** Auth error rate (403s seen / write attempts) above which one alert is raised. @default 0.1 */
  authErrorRateThreshold?: number;
  /** Write attempts needed before the rate is judged. @default 20 */
  minAttempts?: number;
  /** Devices finally failed with AuthorizationFailed after which no new batch starts. @default 50 */
  abortAfterAuthFailures?: number;
}

export interface DeviceRetryOptions {
  /** @default 1000 */
  initialIntervalInMs?: number;
  /** @default 2 */
  backoffCoefficient?: number;
  /** @default 8000 */
  maximumIntervalInMs?: number;
  /** All attempts of one device, the local first attempt included. @default 30 */
  maximumAttempts?: number;
  /** Limit on one attempt (one HTTP write with its token). @default 30000 */
  startToCloseTimeoutInMs?: number;
  /**
   * Limit on all attempts of one device, long enough to outlast an RBAC propagation window.
   * @default 600000 (10 minutes)
   */
  scheduleToCloseTimeoutInMs?: number;
  /**
   * Try each device once as a local activity first (no task-queue round trip, one marker event), and hand only
   * the devices whose first try failed with a retryable error to the durable applySecurityPolicy activity and its
   * retry policy. About 3× the devices/s of a calm fleet; false: every attempt is a durable activity.
   * @default true
   */
  localFirstAttempt?: boolean;
}

export interface PolicySyncInput {
  hub: string;
  target: PolicyTarget;
  /** Restrict the run to these devices (must be in the inventory). */
  deviceIds?: string[];
  /** @default 50 */
  batchSize?: number;
  /** @default 10 (500 devices in flight) */
  maxConcurrentBatches?: number;
  /** Pause between batch starts. @default 0 */
  batchStartDelayInMs?: number;
  preflight?: PreflightOptions;
  alerts?: AlertOptions;
  retry?: DeviceRetryOptions;
  /** Each batch reports its outcomes to the parent after this many devices finish. @default 10 */
  reportEvery?: number;
  /**
   * Continue-as-new once the parent's history reaches this many events (or when the server suggests it),
   * after draining the running batches. @default 4000
   */
  continueAsNewAfterEvents?: number;
  /** State carried over continue-as-new. Not for callers. */
  carried?: CarriedState;
}

export interface DeviceFailure {
  deviceId: string;
  code: string;
  message: string;
  attempts: number;
}

export const ALERT_KINDS = ['AuthErrorRate', 'PermissionsNotPropagated', 'AbortThreshold'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertRecord {
  id: string;
  kind: AlertKind;
  message: string;
  raisedAt: string;
  acknowledged: boolean;
  /** Whether the alert reached ALERT_WEBHOOK_URL; absent on alerts of runs from before it was recorded. */
  delivery?: AlertDelivery;
}

/**
 * `delivered` (or only logged, without a webhook), `failed` with the cause, or `pending`: no answer yet, or none
 * within the few seconds the end of a sync waits for it.
 */
export interface AlertDelivery {
  state: 'delivered' | 'failed' | 'pending';
  error?: string;
}

export interface SyncMetrics {
  phase: SyncPhase;
  devicesTotal: number;
  devicesDone: number;
  successCount: number;
  failureCount: number;
  unchangedCount: number;
  authErrors: number;
  throttledCount: number;
  retriedCount: number;
  authErrorRate: number;
  lastSuccessTime: string | null;
  startedAt: string | null;
  alerts: AlertRecord[];
}

export interface RunSummary {
  workflowId: string;
  hub: string;
  target: PolicyTarget;
  devicesTotal: number;
  succeeded: number;
  unchanged: number;
  failed: { deviceId: string; code: string; message: string }[];
  rejected: Rejection[];
  authErrors: number;
  throttled: number;
  durationMs: number;
  alerts: AlertRecord[];
}

export interface RerunRequest {
  failedOnly?: boolean;
  deviceIds?: string[];
}

export interface AcknowledgeAlertRequest {
  id: string;
}

/** What one device's write came to, after all its attempts. */
export interface DeviceOutcome {
  deviceId: string;
  status: 'succeeded' | 'unchanged' | 'failed';
  attempts: number;
  /** 403 responses seen across attempts. */
  authErrors: number;
  /** 429/503 responses seen across attempts. */
  throttled: number;
  /** Present when status is 'failed'. */
  code?: string;
  message?: string;
  /** ISO time of the successful write. */
  completedAt?: string;
}

export interface PolicyBatchInput {
  hub: string;
  target: PolicyTarget;
  /** Workflow id of the parent, which survives the parent's continue-as-new. */
  parentWorkflowId: string;
  batchNumber: number;
  /** Inventory snapshot the devices come from; the activity resolves policy documents through it. */
  snapshotId: string;
  devices: DeviceAssignment[];
  retry?: DeviceRetryOptions;
  /** Report to the parent after this many devices finish. @default 10 */
  reportEvery?: number;
}

/** Signal payload from a batch to its parent: outcomes since the previous report. */
export interface BatchProgress {
  batchNumber: number;
  outcomes: DeviceOutcome[];
  final: boolean;
  /**
   * The failed first attempts of this batch's devices that are still being retried, as of this report (it
   * replaces the previous one). Lets the parent judge the 403 rate during a retry storm instead of after it.
   */
  retrying?: RetryingTally;
}

/** Attempts and 403s of devices not finished yet (their first, local attempts). */
export interface RetryingTally {
  devices: number;
  attempts: number;
  authErrors: number;
}

export interface PolicyBatchResult {
  batchNumber: number;
  outcomes: DeviceOutcome[];
}

/** Everything the parent carries into its next run after continue-as-new. */
export interface CarriedState {
  startedAt: string;
  /** Original workflow start time in ms since epoch, for durationMs. */
  startedAtMs: number;
  inventorySnapshot: InventorySnapshot;
  /** Next inventory offset not yet batched (the start of the first of `inventoryRanges`). */
  nextOffset: number;
  /**
   * Inventory offsets not yet batched, in the order they will be. When absent, `[nextOffset, deviceCount)`.
   * More than one range only after a rerun of the whole inventory.
   */
  inventoryRanges?: InventoryRange[];
  /** Devices queued by rerun, not yet batched. */
  queued: DeviceAssignment[];
  nextBatchNumber: number;
  counters: SyncCounters;
  /** The failed devices (see failure-ledger.ts). */
  failureLedger?: FailureLedgerState;
  /** The failed devices, as runs before the ledger carried them (read, no longer written). */
  failures?: DeviceFailure[];
  rejected: Rejection[];
  alerts: AlertRecord[];
  paused: boolean;
  /** The AuthErrorRate alert was raised (once per sync, across continue-as-new). */
  authFailureAlertRaised: boolean;
}

/** Inventory offsets `from` (inclusive) to `to` (exclusive). */
export interface InventoryRange {
  from: number;
  to: number;
}

export interface SyncCounters {
  devicesTotal: number;
  devicesDone: number;
  successCount: number;
  failureCount: number;
  unchangedCount: number;
  authErrors: number;
  throttledCount: number;
  retriedCount: number;
  writeAttempts: number;
  lastSuccessTime: string | null;
}

/** A handle on a loaded inventory: the workflow pages through it instead of carrying every device in history. */
export interface InventorySnapshot {
  /** Opaque id the activities use to find the same snapshot again (content hash). */
  id: string;
  /** Valid devices in the snapshot. */
  deviceCount: number;
}

export interface PermissionReport {
  granted: boolean;
  /** Actions (and data actions) the target needs that are not effective at hub scope. */
  missing: string[];
  /** Role names assigned to the principal at or above hub scope (empty when unknown). */
  rolesAssigned: string[];
  /** True when the principal may not list role assignments (no Microsoft.Authorization/roleAssignments/read). */
  rolesUnreadable?: boolean;
  /** The custom role that would grant what is missing. */
  grantingRole: string;
}
