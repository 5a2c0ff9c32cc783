/**
 * The message of a failure that is final: the activities word a retryable failure for the attempt that saw it
 * ("…; will retry."), but once the retries are spent that clause is no longer true. Pure; sandbox-safe.
 */
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { FailureType } from '../domain/failure-codes';
import type { PermissionReport } from '../domain/permissions';

/** "; will retry[ after 4 s]." and its variants, wherever they end a sentence. */
const WILL_RETRY_CLAUSE = /;\s*will retry(?: after [^.;]*)?(?:[.;]|$)/i;
/** "Will retry with a fresh token; if it persists, run …" (403) and "Will retry with a new token." (401). */
const WILL_RETRY_SENTENCE = /\bWill retry with a (?:fresh|new) token(?:; if it persists,|\.)/;

/**
 * `message` with its "will retry" clause replaced by "gave up after N attempts" (or "gave up" when the number
 * is not known). Messages without such a clause are returned unchanged.
 */
export function finalFailureMessage(message: string, attempts?: number): string {
  const gaveUp =
    attempts !== undefined && attempts > 0
      ? `gave up after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}`
      : 'gave up';
  if (WILL_RETRY_CLAUSE.test(message)) return message.replace(WILL_RETRY_CLAUSE, `; ${gaveUp}.`);
  return message.replace(WILL_RETRY_SENTENCE, (sentence) =>
    sentence.endsWith('.') ? `${capitalize(gaveUp)}.` : `${capitalize(gaveUp)}; if it persists,`,
  );
}

/**
 * A workflow's own failure for an activity that failed for good: the same type, details and non-retryable
 * flag, with a final message. Anything else (and messages without a "will retry" clause) is returned as is.
 */
export function finalActivityFailure(error: unknown, maximumAttempts: number): unknown {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof ApplicationFailure)) return error;
  const cause = error.cause;
  const attempts = error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED ? maximumAttempts : undefined;
  const message = finalFailureMessage(cause.message, attempts);
  if (message === cause.message) return error;
  return ApplicationFailure.create({
    type: cause.type ?? 'Error',
    message,
    nonRetryable: true,
    ...(cause.details ? { details: cause.details } : {}),
  });
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The run's failure when the permissions never became effective: what is missing rides in its details. */
export function permissionsNotPropagatedFailure(
  report: PermissionReport,
  message: string,
): ApplicationFailure {
  const { missing, rolesAssigned, grantingRole } = report;
  return ApplicationFailure.create({
    type: FailureType.PermissionsNotPropagated,
    message,
    nonRetryable: true,
    details: [{ missing, rolesAssigned, grantingRole }],
  });
}
