/**
 * The data that crosses the workflow boundary: inputs, results, signals and query answers.
 * Sandbox-safe (no Node imports). Nothing here may ever hold a token or a secret.
 */
import type { AlertRecord } from '../domain/alerts';
import type { ComplianceCounts } from '../domain/compliance';
import type { DeviceFailure, FailureCode } from '../domain/failure-codes';
import type { DeviceAssignment, InventorySnapshot, Rejection } from '../domain/inventory';
import type { PolicyTarget } from '../domain/policy-target';
import type { DeviceRetryOptions } from '../domain/retry-defaults';
import type { FailureLedgerState } from './failure-ledger';

// The shared vocabulary lives in src/domain; re-exported for the workflows' callers.
export { POLICY_TARGETS, type PolicyTarget } from '../domain/policy-target';
export { ALERT_KINDS, type AlertDelivery, type AlertKind, type AlertRecord } from '../domain/alerts';
export type { DeviceAssignment, InventorySnapshot, Rejection } from '../domain/inventory';
export type { DeviceFailure } from '../domain/failure-codes';
export type { PermissionReport } from '../domain/permissions';
export type { DeviceRetryOptions } from '../domain/retry-defaults';

export const SYNC_PHASES = [
  'preflight',
  'loading',
  'syncing',
  'paused',
  'acknowledging',
  'done',
  'failed',
] as const;
export type SyncPhase = (typeof SYNC_PHASES)[number];

export interface PreflightOptions {
  /** @default 250 (1000 before the sync-defaults-v3 patch, 2000 before sync-defaults-v2; see options.ts) */
  firstRecheckInMs?: number;
  /**
   * Each wait is this many times the last, up to maxRecheckInMs: 1.25 notices a grant at most a quarter of the
   * time waited so far after it appears. @default 1.25 (2 before the sync-defaults-v3 patch)
   */
  backoffCoefficient?: number;
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
  /**
   * Twin target: devices that refused the policy (ac 4xx) / devices holding it (written or found unchanged)
   * above which one DeviceRejections alert is raised. @default 0.01
   */
  deviceRejectionRateThreshold?: number;
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
  /**
   * Twin target: how long after the last batch devices have to acknowledge the policy before those still
   * silent are stale (0: one assessment right away). @default 600000 (10 minutes)
   */
  ackDeadlineInMs?: number;
  /** State carried over continue-as-new. Not for callers. */
  carried?: CarriedState;
}

export interface SyncMetrics {
  phase: SyncPhase;
  devicesTotal: number;
  devicesDone: number;
  successCount: number;
  failureCount: number;
  unchangedCount: number;
  /** Devices found not holding their policy when observed (create + update). */
  driftedCount: number;
  /** 403 responses across every write attempt so far (finished devices, and first attempts of retrying ones). */
  authErrors: number;
  /** Write attempts so far, counted as authErrors is; absent when the metrics come from an older run summary. */
  writeAttempts?: number;
  throttledCount: number;
  retriedCount: number;
  /** authErrors ÷ writeAttempts. */
  authErrorRate: number;
  lastSuccessTime: string | null;
  startedAt: string | null;
  alerts: AlertRecord[];
  /** Twin target, once the acknowledgement phase assessed the fleet: the latest assessment. */
  compliance?: ComplianceCounts;
  /** The sync's target (absent in answers of older workers). */
  target?: PolicyTarget;
}

export interface RunSummary {
  workflowId: string;
  hub: string;
  target: PolicyTarget;
  devicesTotal: number;
  succeeded: number;
  unchanged: number;
  /**
   * Devices found not holding their policy when observed (create + update): by the fleet's bulk read, or by
   * the device's own read where none judged it. Absent in summaries of older versions.
   */
  drifted?: number;
  /**
   * How the sync read what devices hold: 'bulk' (one observation of the fleet, only drift written) or
   * 'perDevice' (each device read by its write: the hub refused the bulk read, or the sync named its devices).
   * Absent in summaries of older versions.
   */
  observation?: SyncObservation;
  failed: { deviceId: string; code: FailureCode; message: string }[];
  rejected: Rejection[];
  /** 403 responses across every write attempt. */
  authErrors: number;
  /** Write attempts (absent in summaries of earlier versions). */
  writeAttempts?: number;
  throttled: number;
  durationMs: number;
  alerts: AlertRecord[];
  /**
   * Twin target only (absent for arm, whose writes have no device answer): the devices' answers to the
   * policy at the end of the acknowledgement phase. `failed` lists the rejected and deviceError ones.
   */
  compliance?: ComplianceCounts;
}

export type SyncObservation = 'bulk' | 'perDevice';

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
  code?: FailureCode;
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
  /**
   * Ids among `devices` that the sync's bulk observation saw holding no policy (arm): created without a read
   * first (see ApplyPolicyInput.observedAbsent). @default none
   */
  absent?: string[];
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
  /**
   * The AuthErrorRate alert was raised (once per sync, across continue-as-new): SyncState's
   * authErrorRateAlertRaised. The carried name stays, since running syncs continue-as-new with it.
   */
  authFailureAlertRaised: boolean;
  /** Whether inventory pages are still read against the fleet's observation. Absent: no (older runs). */
  reconciles?: boolean;
  /** How the sync reads devices so far. Absent: 'perDevice' (older runs). */
  observation?: SyncObservation;
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
  /** Devices found not holding their policy when observed (see RunSummary.drifted). */
  drifted: number;
  authErrors: number;
  throttledCount: number;
  retriedCount: number;
  writeAttempts: number;
  lastSuccessTime: string | null;
}
