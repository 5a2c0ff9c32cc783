/**
 * ApplicationFailure types raised by the activities, shared with the workflows' retry policies.
 * Sandbox-safe.
 */
export const FailureType = {
  /** 403 AuthorizationFailed: RBAC is eventually consistent, so retry with a fresh token. */
  AuthorizationFailed: 'AuthorizationFailed',
  /** 401: retry after a token refresh. */
  Unauthorized: 'Unauthorized',
  /** 429: retry after Retry-After. */
  Throttled: 'Throttled',
  /** 503 or other 5xx, timeouts, dropped connections: retry. */
  Transient: 'Transient',
  /** 400: the policy document is refused; will not heal. */
  InvalidPolicy: 'InvalidPolicy',
  /** 404 for the device. */
  DeviceNotFound: 'DeviceNotFound',
  /** 404 for the resource type or provider: the target does not exist here (try POLICY_TARGET=twin). */
  TargetUnsupported: 'TargetUnsupported',
  /** The device id cannot be addressed as its own resource ('.', '..' or an encoded form); nothing is sent. */
  InvalidDeviceId: 'InvalidDeviceId',
  /** The device's policy name is not in the inventory's policies. */
  PolicyNotFound: 'PolicyNotFound',
  /** The inventory snapshot a workflow refers to can no longer be read (file changed). */
  InventoryChanged: 'InventoryChanged',
  /** Configuration or credentials are wrong (e.g. invalid client secret); will not heal by retrying. */
  Misconfigured: 'Misconfigured',
  /** Permissions never became effective within the preflight timeout. */
  PermissionsNotPropagated: 'PermissionsNotPropagated',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failure types a retry cannot fix. */
export const NON_RETRYABLE_FAILURE_TYPES: FailureType[] = [
  FailureType.InvalidPolicy,
  FailureType.DeviceNotFound,
  FailureType.TargetUnsupported,
  FailureType.InvalidDeviceId,
  FailureType.PolicyNotFound,
  FailureType.InventoryChanged,
  FailureType.Misconfigured,
];

/** Counters every activity failure carries in its details, so the workflow can count attempts' errors. */
export interface AttemptCounters {
  attempts: number;
  authErrors: number;
  throttled: number;
}

/**
 * details[0] of applySecurityPolicy's failures. `nextRetryDelayInMs` repeats the failure's nextRetryDelay,
 * which Temporal does not hand back to workflow code: after a local first attempt the workflow waits it out
 * itself before the durable activity takes over.
 */
export interface AttemptFailureDetails extends AttemptCounters {
  nextRetryDelayInMs?: number;
}
