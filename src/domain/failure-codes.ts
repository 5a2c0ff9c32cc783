/**
 * Every code a device's or a run's failure can carry, in one list: what it means, whether a retry can heal it,
 * and who gives it. The activities raise ApplicationFailures typed by the `activity` codes (FailureType); the
 * workflows give the `workflow` codes to devices and runs themselves (OutcomeCode, RunFailureCode). Pure;
 * sandbox-safe.
 */

export interface FailureCodeInfo {
  meaning: string;
  /** Whether the retry policies retry it (a device's writes, the control activities). */
  retried: boolean;
  /** `activity`: an activity's ApplicationFailure type. `workflow`: given by the workflows themselves. */
  raisedBy: 'activity' | 'workflow';
}

export const FAILURE_CODES = {
  AuthorizationFailed: {
    meaning:
      "403 (or IoT Hub's 401 IotHubUnauthorized): RBAC is eventually consistent, so retry with a fresh token",
    retried: true,
    raisedBy: 'activity',
  },
  Unauthorized: { meaning: '401: retry after a token refresh', retried: true, raisedBy: 'activity' },
  Throttled: { meaning: '429: retry after Retry-After', retried: true, raisedBy: 'activity' },
  Transient: {
    meaning: '503 or other 5xx, timeouts, dropped connections, an Entra ID outage: retry',
    retried: true,
    raisedBy: 'activity',
  },
  InvalidPolicy: {
    meaning: '400: the policy document is refused; will not heal',
    retried: false,
    raisedBy: 'activity',
  },
  DeviceNotFound: { meaning: '404 for the device', retried: false, raisedBy: 'activity' },
  TargetUnsupported: {
    meaning: '404 for the resource type or provider: the target does not exist here (try POLICY_TARGET=twin)',
    retried: false,
    raisedBy: 'activity',
  },
  InvalidDeviceId: {
    meaning:
      "the device id cannot be addressed as its own resource ('.', '..' or an encoded form); nothing is sent",
    retried: false,
    raisedBy: 'activity',
  },
  PolicyNotFound: {
    meaning: "the device's policy name is not in the inventory's policies",
    retried: false,
    raisedBy: 'activity',
  },
  InventoryChanged: {
    meaning: 'the inventory snapshot a workflow refers to can no longer be read (file changed)',
    retried: false,
    raisedBy: 'activity',
  },
  Misconfigured: {
    meaning:
      'configuration or credentials are wrong (an invalid client secret, another hub, a policy deny, a lock); will not heal by retrying',
    retried: false,
    raisedBy: 'activity',
  },
  PermissionsNotPropagated: {
    meaning: 'the run: permissions never became effective within the preflight timeout',
    retried: false,
    raisedBy: 'workflow',
  },
  Timeout: {
    meaning: 'the activity ran out of time (start-to-close on the last attempt, or schedule-to-close)',
    retried: false,
    raisedBy: 'workflow',
  },
  Cancelled: {
    meaning: 'the write was cancelled (the sync was cancelled)',
    retried: false,
    raisedBy: 'workflow',
  },
  Aborted: {
    meaning: 'not attempted: the sync stopped starting batches after too many AuthorizationFailed devices',
    retried: false,
    raisedBy: 'workflow',
  },
  BatchFailed: {
    meaning: 'the batch workflow failed or could not start; its devices without an outcome get this code',
    retried: false,
    raisedBy: 'workflow',
  },
  DeviceRejected: {
    meaning:
      'the twin target: Azure accepted the write, but the device refused the policy (its reported ac 4xx; the message is its ad); not written again while the document is the same',
    retried: false,
    raisedBy: 'workflow',
  },
  DeviceError: {
    meaning:
      'the twin target: Azure accepted the write, but the device failed applying the policy (its reported ac 5xx, or an answer outside the convention; the message is its ad)',
    retried: false,
    raisedBy: 'workflow',
  },
  InvalidInput: {
    meaning: 'the run: the workflow input is invalid (a batch: its input is invalid)',
    retried: false,
    raisedBy: 'workflow',
  },
  NotListed: {
    meaning:
      "the run summary's last entry (deviceId '*'): how many more devices failed, by code, past the listing budget",
    retried: false,
    raisedBy: 'workflow',
  },
  Error: { meaning: 'a failure of no known type', retried: false, raisedBy: 'workflow' },
} as const satisfies Record<string, FailureCodeInfo>;

export type FailureCode = keyof typeof FAILURE_CODES;

export function isFailureCode(value: unknown): value is FailureCode {
  return typeof value === 'string' && Object.hasOwn(FAILURE_CODES, value);
}

/** The code for a failure's type or name: itself when it is one of FAILURE_CODES, else 'Error'. */
export function asFailureCode(value: string | null | undefined): FailureCode {
  return isFailureCode(value) ? value : 'Error';
}

/** ApplicationFailure types raised by the activities, shared with the workflows' retry policies. */
export const FailureType = {
  AuthorizationFailed: 'AuthorizationFailed',
  Unauthorized: 'Unauthorized',
  Throttled: 'Throttled',
  Transient: 'Transient',
  InvalidPolicy: 'InvalidPolicy',
  DeviceNotFound: 'DeviceNotFound',
  TargetUnsupported: 'TargetUnsupported',
  InvalidDeviceId: 'InvalidDeviceId',
  PolicyNotFound: 'PolicyNotFound',
  InventoryChanged: 'InventoryChanged',
  Misconfigured: 'Misconfigured',
  /** Raised by the parent workflow (its preflight), listed here because it shares the namespace. */
  PermissionsNotPropagated: 'PermissionsNotPropagated',
} as const satisfies { [K in FailureCode]?: K };
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Codes the workflows give failed devices besides the activities' FailureType values. */
export const OutcomeCode = {
  Timeout: 'Timeout',
  Cancelled: 'Cancelled',
  Aborted: 'Aborted',
  BatchFailed: 'BatchFailed',
  DeviceRejected: 'DeviceRejected',
  DeviceError: 'DeviceError',
} as const satisfies { [K in FailureCode]?: K };
export type OutcomeCode = (typeof OutcomeCode)[keyof typeof OutcomeCode];

/** Codes of a run's own failures or listing entries, besides FailureType's. */
export const RunFailureCode = {
  InvalidInput: 'InvalidInput',
  NotListed: 'NotListed',
} as const satisfies { [K in FailureCode]?: K };

/** Activity failure types a retry cannot fix (the retry policies' nonRetryableErrorTypes), in FailureType order. */
export const NON_RETRYABLE_FAILURE_TYPES: FailureType[] = Object.values(FailureType).filter(
  (type) => FAILURE_CODES[type].raisedBy === 'activity' && !FAILURE_CODES[type].retried,
);

/** A device's failure as the parent records it. */
export interface DeviceFailure {
  deviceId: string;
  code: FailureCode;
  message: string;
  attempts: number;
}
