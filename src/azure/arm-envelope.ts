/**
 * The policy an observed ARM securityPolicies resource holds, as it compares to the desired document.
 * (A first, small normalizer for bulk observation; it is to merge with the writer's own envelope check.)
 */
import { isRecord, type PolicyDocument } from './policy-writer';

/**
 * `properties` of the resource envelope (`{ id, name, type, properties, systemData?, … }`), without a
 * `provisioningState: Succeeded` ARM may add to it: that says the policy is in place, it is not part of
 * the policy. Any other state (Failed, Updating…) is kept, so the device compares as drifted and is written
 * again. An envelope without readable `properties` holds an empty policy. Pure.
 *
 * Known limit: a desired document that itself carries `provisioningState: 'Succeeded'` never compares equal.
 */
export function policyFromArmEnvelope(resource: unknown): PolicyDocument {
  const properties = isRecord(resource) && isRecord(resource.properties) ? resource.properties : {};
  const state = properties.provisioningState;
  if (typeof state === 'string' && state.toLowerCase() === 'succeeded') {
    const { provisioningState: _added, ...policy } = properties;
    return policy;
  }
  return { ...properties };
}

/** The device id of a listed securityPolicies resource: its `name`, else the last segment of its `id`. */
export function deviceIdOfArmResource(resource: unknown): string | undefined {
  if (!isRecord(resource)) return undefined;
  if (typeof resource.name === 'string' && resource.name !== '') return resource.name;
  if (typeof resource.id !== 'string') return undefined;
  const last = /\/securityPolicies\/([^/]+)\/?$/i.exec(resource.id)?.[1];
  return last === undefined ? undefined : decodeURIComponent(last);
}
