/**
 * A device's retry options and their defaults: the workflows' retry policy and the activities' jittered
 * backoff both start from these. Pure; sandbox-safe.
 */

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

export const RETRY_DEFAULTS: Required<DeviceRetryOptions> = {
  initialIntervalInMs: 1_000,
  backoffCoefficient: 2,
  // 8 s, not 30: after a propagation window closes, a device refused at its end waits at most one interval.
  // With 30 attempts the retries still span ~2–4 minutes; scheduleToClose (10 min) bounds them in time.
  maximumIntervalInMs: 8_000,
  maximumAttempts: 30,
  startToCloseTimeoutInMs: 30_000,
  scheduleToCloseTimeoutInMs: 10 * 60_000,
  localFirstAttempt: true,
};
