/** The writers' guard against documents nested too deeply to walk safely. */
import { policyDepthProblem } from '../domain/json-depth';
import { FailureType } from '../domain/failure-codes';
import { AzureRequestError } from './errors';

/**
 * Refuses a document nested deeper than the inventory allows before anything walks it: the inventory
 * refuses such documents, so this only guards writers used directly. Every recursive walk of a document
 * (equality, the twin merge patch, JSON.stringify of the body) then stays within MAX_POLICY_DEPTH.
 */
export function assertPolicyDepth(document: unknown, deviceId: string): void {
  const problem = policyDepthProblem(document);
  if (problem) {
    throw new AzureRequestError({
      code: FailureType.InvalidPolicy,
      deviceId,
      message: `The security policy for device '${deviceId}' was not written: ${problem}.`,
    });
  }
}
