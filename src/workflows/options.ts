/**
 * Defaults and validation of the workflows' inputs. Pure; sandbox-safe.
 */
import { POLICY_TARGETS } from '../domain/policy-target';
import { RETRY_DEFAULTS, type DeviceRetryOptions } from '../domain/retry-defaults';
import type { PolicySyncInput } from './types';

/** Most devices in one batch (docs/interface.md: a policyBatchWorkflow holds at most 50 devices). */
export const MAX_BATCH_SIZE = 50;
/** Most devices in flight at once (batchSize × maxConcurrentBatches): keeps pending activities bounded. */
export const MAX_DEVICES_IN_FLIGHT = 500;
/** Every parent run must stay well under 10,000 events; draining the window after the threshold adds a few hundred. */
export const MAX_CONTINUE_AS_NEW_AFTER_EVENTS = 8_000;

export const SYNC_DEFAULTS = {
  batchSize: 50,
  maxConcurrentBatches: 10,
  batchStartDelayInMs: 0,
  reportEvery: 10,
  continueAsNewAfterEvents: 4_000,
  // A grant usually appears within seconds, sometimes after many minutes: check soon, then a quarter more each
  // time (~11 checks in the first 10 s, ~29 in 10 minutes).
  preflight: {
    firstRecheckInMs: 250,
    backoffCoefficient: 1.25,
    maxRecheckInMs: 60_000,
    timeoutInMs: 30 * 60_000,
  },
  alerts: {
    authErrorRateThreshold: 0.1,
    minAttempts: 20,
    abortAfterAuthFailures: 50,
    deviceRejectionRateThreshold: 0.01,
  },
  ackDeadlineInMs: 10 * 60_000,
} as const;

/** The longest acknowledgement deadline a sync accepts. */
export const MAX_ACK_DEADLINE_MS = 24 * 3_600_000;

export { RETRY_DEFAULTS };

/** The defaults of syncs started before the `sync-defaults-v3` patch: preflight from 1 s, doubling. */
export const SYNC_DEFAULTS_V2 = {
  ...SYNC_DEFAULTS,
  preflight: { ...SYNC_DEFAULTS.preflight, firstRecheckInMs: 1_000, backoffCoefficient: 2 },
} as const;

/**
 * The defaults of syncs started before the `sync-defaults-v2` patch (window 4, preflight from 2 s, retries capped
 * at 30 s × 10 attempts). A run that started with them keeps them when it is replayed: its page size and window
 * are in its history. See policySyncWorkflow.
 */
export const SYNC_DEFAULTS_V1 = {
  ...SYNC_DEFAULTS,
  maxConcurrentBatches: 4,
  preflight: { ...SYNC_DEFAULTS.preflight, firstRecheckInMs: 2_000, backoffCoefficient: 2 },
} as const;
export const RETRY_DEFAULTS_V1: Required<DeviceRetryOptions> = {
  ...RETRY_DEFAULTS,
  maximumIntervalInMs: 30_000,
  maximumAttempts: 10,
};

/**
 * Marks runs whose unset options take today's defaults (window 10, preflight from 1 s, retries capped at 8 s ×
 * 30). Runs from before replay with V1_DEFAULTS: their page size and window are in their history.
 */
export const SYNC_DEFAULTS_V2_PATCH = 'sync-defaults-v2';
/** Marks runs whose preflight checks from 250 ms, a quarter longer each time (before: from 1 s, doubling). */
export const SYNC_DEFAULTS_V3_PATCH = 'sync-defaults-v3';
/** Marks runs that count their batches' `retrying` tallies (an alert may come earlier than it used to). */
export const LIVE_RETRYING_TALLY_PATCH = 'live-retrying-tally';
/**
 * Marks runs that record each alert's delivery and wait at most ALERT_WAIT_AT_END_MS for pending deliveries at
 * their end (a dead webhook delayed the end of a sync by a minute).
 */
export const ALERT_DELIVERY_BUDGET_PATCH = 'alert-delivery-budget';
/** Marks runs that keep their outcome in words in the memo (an upsert per phase change and alert). */
export const OUTCOME_MEMO_PATCH = 'outcome-memo';
/** Marks runs whose batch children carry the IotHub search attribute. */
export const BATCH_IOT_HUB_PATCH = 'batch-iot-hub';
/** How long the end of a sync waits for alerts still being delivered; they are then recorded as pending. */
export const ALERT_WAIT_AT_END_MS = 5_000;

/** Which generation of defaults fills what an input leaves out. */
export interface OptionDefaults {
  sync: typeof SYNC_DEFAULTS | typeof SYNC_DEFAULTS_V2 | typeof SYNC_DEFAULTS_V1;
  retry: Required<DeviceRetryOptions>;
}
export const CURRENT_DEFAULTS: OptionDefaults = { sync: SYNC_DEFAULTS, retry: RETRY_DEFAULTS };
export const V2_DEFAULTS: OptionDefaults = { sync: SYNC_DEFAULTS_V2, retry: RETRY_DEFAULTS };
export const V1_DEFAULTS: OptionDefaults = { sync: SYNC_DEFAULTS_V1, retry: RETRY_DEFAULTS_V1 };

export interface ResolvedSyncOptions {
  batchSize: number;
  maxConcurrentBatches: number;
  batchStartDelayInMs: number;
  reportEvery: number;
  continueAsNewAfterEvents: number;
  /** Devices read from the inventory per readInventoryPage call: one window's worth. */
  pageSize: number;
  preflight: {
    firstRecheckInMs: number;
    backoffCoefficient: number;
    maxRecheckInMs: number;
    timeoutInMs: number;
  };
  alerts: {
    authErrorRateThreshold: number;
    minAttempts: number;
    abortAfterAuthFailures: number;
    deviceRejectionRateThreshold: number;
  };
  ackDeadlineInMs: number;
  retry: Required<DeviceRetryOptions>;
}

export function resolveRetryOptions(
  retry: DeviceRetryOptions = {},
  defaults: Required<DeviceRetryOptions> = RETRY_DEFAULTS,
): Required<DeviceRetryOptions> {
  return {
    initialIntervalInMs: retry.initialIntervalInMs ?? defaults.initialIntervalInMs,
    backoffCoefficient: retry.backoffCoefficient ?? defaults.backoffCoefficient,
    maximumIntervalInMs: retry.maximumIntervalInMs ?? defaults.maximumIntervalInMs,
    maximumAttempts: retry.maximumAttempts ?? defaults.maximumAttempts,
    startToCloseTimeoutInMs: retry.startToCloseTimeoutInMs ?? defaults.startToCloseTimeoutInMs,
    scheduleToCloseTimeoutInMs: retry.scheduleToCloseTimeoutInMs ?? defaults.scheduleToCloseTimeoutInMs,
    localFirstAttempt: retry.localFirstAttempt ?? defaults.localFirstAttempt,
  };
}

export function resolveSyncOptions(
  input: PolicySyncInput,
  defaults: OptionDefaults = CURRENT_DEFAULTS,
): ResolvedSyncOptions {
  const d = defaults.sync;
  const batchSize = input.batchSize ?? d.batchSize;
  const maxConcurrentBatches = input.maxConcurrentBatches ?? d.maxConcurrentBatches;
  return {
    batchSize,
    maxConcurrentBatches,
    batchStartDelayInMs: input.batchStartDelayInMs ?? d.batchStartDelayInMs,
    reportEvery: input.reportEvery ?? d.reportEvery,
    continueAsNewAfterEvents: input.continueAsNewAfterEvents ?? d.continueAsNewAfterEvents,
    pageSize: batchSize * maxConcurrentBatches,
    preflight: { ...d.preflight, ...definedOnly(input.preflight) },
    alerts: { ...d.alerts, ...definedOnly(input.alerts) },
    ackDeadlineInMs: input.ackDeadlineInMs ?? d.ackDeadlineInMs,
    retry: resolveRetryOptions(input.retry, defaults.retry),
  };
}

/** Every problem with the input, so that a caller sees them all at once. Empty when valid. */
export function validateSyncInput(input: PolicySyncInput): string[] {
  const problems: string[] = [];
  if (typeof input?.hub !== 'string' || input.hub.length === 0)
    problems.push('hub must be a non-empty string');
  if (!POLICY_TARGETS.includes(input?.target))
    problems.push(`target must be one of ${POLICY_TARGETS.join(', ')}`);
  if (input?.deviceIds !== undefined && !isStringArray(input.deviceIds))
    problems.push('deviceIds must be an array of strings');
  if (problems.length > 0 && (typeof input !== 'object' || input === null)) return problems;

  const o = resolveSyncOptions(input);
  const int = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(value) || value < min || value > max)
      problems.push(
        `${name} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`,
      );
  };
  int('batchSize', o.batchSize, 1, MAX_BATCH_SIZE);
  int('maxConcurrentBatches', o.maxConcurrentBatches, 1);
  if (o.batchSize * o.maxConcurrentBatches > MAX_DEVICES_IN_FLIGHT)
    problems.push(`batchSize × maxConcurrentBatches must be at most ${MAX_DEVICES_IN_FLIGHT}`);
  int('batchStartDelayInMs', o.batchStartDelayInMs, 0);
  int('reportEvery', o.reportEvery, 1);
  int('continueAsNewAfterEvents', o.continueAsNewAfterEvents, 100, MAX_CONTINUE_AS_NEW_AFTER_EVENTS);
  int('preflight.firstRecheckInMs', o.preflight.firstRecheckInMs, 1);
  int('preflight.maxRecheckInMs', o.preflight.maxRecheckInMs, o.preflight.firstRecheckInMs);
  int('preflight.timeoutInMs', o.preflight.timeoutInMs, 0);
  const growth = o.preflight.backoffCoefficient;
  if (typeof growth !== 'number' || !(growth >= 1 && growth <= 10))
    problems.push('preflight.backoffCoefficient must be a number from 1 to 10');
  const rate = o.alerts.authErrorRateThreshold;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))
    problems.push('alerts.authErrorRateThreshold must be from 0 to 1');
  int('alerts.minAttempts', o.alerts.minAttempts, 0);
  int('alerts.abortAfterAuthFailures', o.alerts.abortAfterAuthFailures, 0);
  const rejections = o.alerts.deviceRejectionRateThreshold;
  if (typeof rejections !== 'number' || !(rejections >= 0 && rejections <= 1))
    problems.push('alerts.deviceRejectionRateThreshold must be from 0 to 1');
  int('ackDeadlineInMs', o.ackDeadlineInMs, 0, MAX_ACK_DEADLINE_MS);
  problems.push(...validateRetryOptions(o.retry));
  return problems;
}

export function validateRetryOptions(retry: Required<DeviceRetryOptions>): string[] {
  const problems: string[] = [];
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) problems.push(`retry.${name} must be a positive integer`);
  };
  positive('initialIntervalInMs', retry.initialIntervalInMs);
  positive('maximumIntervalInMs', retry.maximumIntervalInMs);
  positive('maximumAttempts', retry.maximumAttempts);
  positive('startToCloseTimeoutInMs', retry.startToCloseTimeoutInMs);
  positive('scheduleToCloseTimeoutInMs', retry.scheduleToCloseTimeoutInMs);
  if (typeof retry.backoffCoefficient !== 'number' || !(retry.backoffCoefficient >= 1))
    problems.push('retry.backoffCoefficient must be at least 1');
  if (retry.maximumIntervalInMs < retry.initialIntervalInMs)
    problems.push('retry.maximumIntervalInMs must be at least retry.initialIntervalInMs');
  if (retry.scheduleToCloseTimeoutInMs < retry.startToCloseTimeoutInMs)
    problems.push('retry.scheduleToCloseTimeoutInMs must be at least retry.startToCloseTimeoutInMs');
  if (typeof retry.localFirstAttempt !== 'boolean')
    problems.push('retry.localFirstAttempt must be true or false');
  return problems;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Drops keys whose value is undefined, so that `{ timeoutInMs: undefined }` keeps the default. */
function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What is wrong with a rerun signal's payload (it may come from any client), or undefined. */
export function validateRerunRequest(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    return 'Invalid rerun request: expected { failedOnly?: boolean, deviceIds?: string[] }';
  const { failedOnly, deviceIds } = request as Record<string, unknown>;
  if (failedOnly !== undefined && typeof failedOnly !== 'boolean')
    return 'Invalid rerun request: failedOnly must be a boolean';
  if (deviceIds !== undefined && !isStringArray(deviceIds))
    return 'Invalid rerun request: deviceIds must be an array of strings';
  return undefined;
}
