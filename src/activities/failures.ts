/**
 * The activity boundary: any error of the Azure or inventory layer becomes an ApplicationFailure whose
 * `type` the workflows' retry policies know (FailureType), with the attempt counters in its details and,
 * for retryable failures, a jittered nextRetryDelay.
 */
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { classifyAzureError, isAzureRequestError, type AzureRequestError } from '../azure/errors';
import { isInventoryError, type InventoryError, type InventoryErrorCode } from '../inventory/errors';
import { redact } from '../logger';
import type { AttemptFailureDetails } from '../domain/activity-contract';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../domain/failure-codes';
import { fullJitterBackoffInMs, retryAfterWithJitterInMs, type BackoffOptions } from './retry-delay';

export interface FailureMapping {
  type: FailureType;
  nonRetryable: boolean;
  message: string;
  /** Undefined: let the retry policy decide. */
  nextRetryDelayInMs?: number;
}

/** The failure each inventory error becomes: a whole source unusable is the configuration's fault. */
const INVENTORY_FAILURE_TYPES: Readonly<Record<InventoryErrorCode, FailureType>> = {
  InvalidInventoryFile: FailureType.Misconfigured,
  InventoryChanged: FailureType.InventoryChanged,
  PolicyNotFound: FailureType.PolicyNotFound,
  NothingSelected: FailureType.Misconfigured,
};

function inventoryFailureType(error: InventoryError): FailureType {
  return INVENTORY_FAILURE_TYPES[error.code] ?? FailureType.Misconfigured;
}

/** Decides the failure for an error at attempt `attempt`. Pure (randomness injected). */
export function mapFailure(
  error: unknown,
  attempt: number,
  random: () => number,
  backoff: BackoffOptions = {},
): FailureMapping {
  if (isInventoryError(error)) {
    const type = inventoryFailureType(error);
    return { type, nonRetryable: true, message: redact(error.message) };
  }
  if (!isAzureRequestError(error) && error instanceof Error && error.name === 'AlertDeliveryError') {
    const retryable = (error as { retryable?: boolean }).retryable !== false;
    if (!retryable)
      return { type: FailureType.Transient, nonRetryable: true, message: redact(error.message) };
    return {
      type: FailureType.Transient,
      nonRetryable: false,
      message: redact(error.message),
      nextRetryDelayInMs: fullJitterBackoffInMs(attempt, random, backoff),
    };
  }
  const azure: AzureRequestError = isAzureRequestError(error)
    ? error
    : classifyAzureError({ error }, { operation: 'calling Azure' });
  const type: FailureType = azure.code;
  const nonRetryable = NON_RETRYABLE_FAILURE_TYPES.includes(type);
  if (nonRetryable) return { type, nonRetryable, message: azure.message };
  const nextRetryDelayInMs =
    azure.retryAfterInMs !== undefined
      ? retryAfterWithJitterInMs(azure.retryAfterInMs, random)
      : fullJitterBackoffInMs(attempt, random, backoff);
  return { type, nonRetryable, message: azure.message, nextRetryDelayInMs };
}

function failureDetails(counters: AttemptFailureDetails, mapping: FailureMapping): AttemptFailureDetails {
  return mapping.nextRetryDelayInMs === undefined
    ? counters
    : { ...counters, nextRetryDelayInMs: mapping.nextRetryDelayInMs };
}

export interface ToApplicationFailureOptions {
  /**
   * An expected, self-healing failure (a 403 while RBAC propagates, a 429): Temporal's worker logs it at
   * DEBUG rather than WARN with a stack, and leaves it out of its failure metrics. The failure, its type
   * and details are recorded in history all the same.
   */
  benign?: boolean;
}

/** The ApplicationFailure for a mapping, carrying the counters (and the delay, see AttemptFailureDetails). */
export function toApplicationFailure(
  mapping: FailureMapping,
  counters?: AttemptFailureDetails,
  options: ToApplicationFailureOptions = {},
): ApplicationFailure {
  return ApplicationFailure.create({
    type: mapping.type,
    message: mapping.message,
    nonRetryable: mapping.nonRetryable,
    ...(counters ? { details: [failureDetails(counters, mapping)] } : {}),
    ...(mapping.nextRetryDelayInMs === undefined ? {} : { nextRetryDelay: mapping.nextRetryDelayInMs }),
    ...(options.benign ? { category: ApplicationFailureCategory.BENIGN } : {}),
  });
}

/** What willBeRetried needs of the attempt: Temporal's ActivityInfo, and the device's own attempt budget. */
export interface RetryOutlook {
  isLocal: boolean;
  /** This activity's attempt (Temporal's count). */
  attempt: number;
  retryPolicy?: { maximumAttempts?: number };
  /** When the first attempt was scheduled, and the schedule-to-close timeout (0: none). */
  scheduledTimestampMs?: number;
  scheduleToCloseTimeoutMs?: number;
  /** The device's attempt number, counting the attempts before this activity (`prior`). */
  deviceAttempt: number;
  /** The device's attempt budget (ApplyPolicyInput.maximumAttempts); unknown for older callers. */
  deviceMaximumAttempts?: number;
}

/**
 * Whether a failed attempt will be tried again: retryable; within the device's attempt budget; for a durable
 * activity, within its retry policy's attempts and its schedule-to-close time (Temporal stops retrying once
 * the next attempt would start after it). A retryable local attempt is handed on to a durable activity.
 */
export function willBeRetried(mapping: FailureMapping, outlook: RetryOutlook, nowInMs = Date.now()): boolean {
  if (mapping.nonRetryable) return false;
  if (outlook.deviceMaximumAttempts !== undefined && outlook.deviceAttempt >= outlook.deviceMaximumAttempts)
    return false;
  if (outlook.isLocal) return true;
  const maximumAttempts = outlook.retryPolicy?.maximumAttempts;
  if (maximumAttempts && outlook.attempt >= maximumAttempts) return false;
  const budget = outlook.scheduleToCloseTimeoutMs ?? 0;
  if (budget > 0 && outlook.scheduledTimestampMs !== undefined) {
    const nextStart = nowInMs + (mapping.nextRetryDelayInMs ?? 0);
    if (nextStart >= outlook.scheduledTimestampMs + budget) return false;
  }
  return true;
}
