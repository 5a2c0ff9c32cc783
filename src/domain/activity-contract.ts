/**
 * The activity contract: what the worker registers and the workflows proxy, with the payloads that cross it.
 * Types only; sandbox-safe.
 */
import type { AlertRecord } from './alerts';
import type { ComplianceCounts } from './compliance';
import type { DeviceAnswerFailure } from './compliance-assessment';
import type { DeviceAssignment, InventorySnapshot, Rejection } from './inventory';
import type { PermissionReport } from './permissions';
import type { PolicyTarget } from './policy-target';

/** Counters every activity failure carries in its details, so the workflow can count attempts' errors. */
export interface AttemptCounters {
  attempts: number;
  authErrors: number;
  throttled: number;
  /**
   * Failures after which Azure may have acted (no answer, a server error, a timeout), unlike a refusal (403,
   * 429): after one, a device observed holding no policy is read before its write again. @default 0
   */
  unsure?: number;
}

/**
 * details[0] of applySecurityPolicy's failures. `nextRetryDelayInMs` repeats the failure's nextRetryDelay,
 * which Temporal does not hand back to workflow code: after a local first attempt the workflow waits it out
 * itself before the durable activity takes over.
 */
export interface AttemptFailureDetails extends AttemptCounters {
  nextRetryDelayInMs?: number;
  /**
   * A local first attempt held at the hub's authorization gate: nothing was sent. The batch writes the devices
   * held together in one applySecurityPolicies activity. @default false
   */
  heldAtGate?: boolean;
}

export interface ApplyPolicyInput {
  /** The hub the sync is for; a worker of another hub refuses the write (Misconfigured). @default not checked */
  hub?: string;
  deviceId: string;
  /** Policy name; the worker resolves the document, so documents never enter history. */
  policy: string;
  target: PolicyTarget;
  /** Snapshot the assignment came from; used to resolve the policy document. */
  snapshotId: string;
  /**
   * The jittered backoff between attempts (the activity's nextRetryDelay overrides the retry policy's
   * intervals, so the workflow's retry options reach it here). @default the worker's
   */
  backoff?: { initialIntervalInMs: number; backoffCoefficient: number; maximumIntervalInMs: number };
  /**
   * What earlier attempts outside this activity's own retries came to: the workflow's local first attempt.
   * Attempt numbers and counters continue from it. @default none
   */
  prior?: AttemptCounters;
  /**
   * The device's attempt budget (the workflow's retry.maximumAttempts, counting `prior`), so the activity can
   * tell a final failure (logged as a WARN) from one that will be retried (benign). @default unknown
   */
  maximumAttempts?: number;
  /**
   * The sync's bulk observation saw the device hold no policy. While every try so far was refused before Azure
   * acted (403, 429), the write creates it without a read first, on the condition that none exists
   * (`If-None-Match: *`; where one does, it reads and decides). @default false
   */
  observedAbsent?: boolean;
}

export interface ApplyPolicyResult {
  status: 'succeeded' | 'unchanged';
  /** The device's attempt number (1-based, counting `prior`) when it succeeded. */
  attempts: number;
  /** 403s seen across all attempts of this device (carried in heartbeat details). */
  authErrors: number;
  /** 429/503s seen across all attempts. */
  throttled: number;
}

/**
 * applySecurityPolicies: the devices of one batch that its local first attempts left held at the hub's
 * authorization gate (a grant settling: most calls refused), written in one activity instead of one each. The
 * gate releases them together; as one activity their completion is one round trip through Temporal, not one
 * per device. Each device is written as applySecurityPolicy writes it (its tries, counters and tokens its own).
 */
export interface ApplyPoliciesInput extends Omit<
  ApplyPolicyInput,
  'deviceId' | 'policy' | 'prior' | 'observedAbsent'
> {
  /** At most a batch (50). */
  devices: GroupedDevice[];
}

export interface GroupedDevice {
  deviceId: string;
  policy: string;
  /** What the device's local first attempt came to. */
  prior: AttemptCounters;
  /** See ApplyPolicyInput.observedAbsent. @default false */
  observedAbsent?: boolean;
}

/** What became of one device of applySecurityPolicies: exactly one of `written`, `handOn`, `failed`. */
export interface GroupedDeviceResult {
  deviceId: string;
  written?: ApplyPolicyResult;
  /** A retryable failure that the device's own applySecurityPolicy activity takes on after `delayInMs`. */
  handOn?: { prior: AttemptCounters; delayInMs: number };
  /** A failure no retry heals, or the device's attempts are spent: its final outcome. */
  failed?: { type: string; message: string; counters: AttemptCounters };
}

/** applySecurityPolicies' heartbeat details: the counters of each device's last failed try, and what it wrote. */
export interface GroupProgress {
  devices: Record<string, AttemptCounters>;
  written: Record<string, ApplyPolicyResult>;
}

export interface ApplyPoliciesResult {
  /** One per input device, in input order. */
  devices: GroupedDeviceResult[];
}

export interface LoadInventoryInput {
  /** The hub the sync is for; a worker of another hub refuses (Misconfigured). @default not checked */
  hub?: string;
  /** Restrict to these ids; ids not in the inventory are rejected with source `--devices`. */
  deviceIds?: string[];
}

export interface LoadInventoryResult {
  snapshot: InventorySnapshot;
  /** At most 1,000 rejections, the first ones; `rejectedCount` has the total. */
  rejected: Rejection[];
  rejectedCount: number;
}

export interface ReadInventoryPageInput {
  snapshotId: string;
  offset: number;
  limit: number;
}

/** A page of the snapshot, observed: what a sync still has to write of it. */
export interface ReadDriftedPageInput extends ReadInventoryPageInput {
  hub: string;
  target: PolicyTarget;
  /**
   * The sync asking (its workflow id and start): every page of one sync is judged by one observation of the
   * fleet, and a later sync observes afresh.
   */
  syncId: string;
}

/** How the page was judged: by the fleet's bulk read, or not at all (the hub refuses it: read each device). */
export type ObservationMode = 'bulk' | 'unsupported';

export interface ReadDriftedPageResult {
  /**
   * The page's devices not in sync as observed (create, update, unknown), in inventory order; every device of
   * the page when observation is 'unsupported'.
   */
  devices: DeviceAssignment[];
  /** The inventory offset of each of `devices`. */
  offsets: number[];
  /** Devices of the page that held exactly their policy when observed: not written. */
  unchanged: number;
  /**
   * Ids among `devices` the observation did not find in the hub (twin: the device query lists every device).
   * They are still written, and fail as the write finds them; they are not drift.
   */
  notInHub: string[];
  /** Ids among `devices` the observation saw holding no policy (arm: creates). @default none */
  absent?: string[];
  observation: ObservationMode;
}

export interface FindDevicesInput {
  snapshotId: string;
  deviceIds: string[];
}

export interface FindDevicesResult {
  devices: DeviceAssignment[];
  /** Ids not in the snapshot. */
  unknown: string[];
}

export interface SendAlertInput {
  hub: string;
  /** The sync's target, for the alerts metric's `target` tag. @default untagged */
  target?: PolicyTarget;
  workflowId: string;
  alert: AlertRecord;
}

export interface AssessComplianceInput {
  /** The hub the sync is for; a worker of another hub refuses (Misconfigured). */
  hub: string;
  /** Only `twin`: ARM's policy resources have no device answer. */
  target: PolicyTarget;
  /** The devices assessed: every device of this inventory snapshot. */
  snapshotId: string;
  /** The time devices had to answer is over: connected devices still without an answer are stale. */
  deadlinePassed: boolean;
  /** Most refusals and failures listed in `rejected`; the rest are counted in `notListed`. @default 1000 */
  listLimit?: number;
}

export interface AssessComplianceResult {
  /** Every device of the snapshot that is in the hub, by compliance status. */
  counts: ComplianceCounts;
  /** The devices that refused or failed the policy, in the order the hub listed them, at most `listLimit`. */
  rejected: DeviceAnswerFailure[];
  /** Refusals and failures not in `rejected`. */
  notListed: number;
  /** Connected devices holding our document whose answer has not come (the acknowledgement phase waits on it). */
  pendingCount: number;
  /** Devices of the snapshot the hub does not list (not classified; their writes failed DeviceNotFound). */
  notInHub: number;
  /** Device queries (pages) the read took: the next assessment waits long enough to stay in the query budget. */
  queries: number;
  /** ISO time the read finished. */
  observedAt: string;
}

/**
 * What the worker registers. Workflows proxy this type; `createActivities(deps)` implements it.
 * Every method is a Temporal activity; failures are ApplicationFailures typed by FailureType.
 */
export interface PolicySyncActivities {
  checkRolePropagation(input: { target: PolicyTarget; hub?: string }): Promise<PermissionReport>;
  loadInventory(input: LoadInventoryInput): Promise<LoadInventoryResult>;
  readInventoryPage(input: ReadInventoryPageInput): Promise<DeviceAssignment[]>;
  readDriftedInventoryPage(input: ReadDriftedPageInput): Promise<ReadDriftedPageResult>;
  findDevices(input: FindDevicesInput): Promise<FindDevicesResult>;
  applySecurityPolicy(input: ApplyPolicyInput): Promise<ApplyPolicyResult>;
  applySecurityPolicies(input: ApplyPoliciesInput): Promise<ApplyPoliciesResult>;
  sendAlert(input: SendAlertInput): Promise<void>;
  assessCompliance(input: AssessComplianceInput): Promise<AssessComplianceResult>;
}
