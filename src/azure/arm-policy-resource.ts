/**
 * What a securityPolicies resource read from ARM holds, put in the form of the document that was (or
 * would be) written, so the two compare like with like. A document is written either bare (the seed's
 * contract: the body is the policy, which the resource's `properties` then hold) or in ARM's resource
 * form `{"properties": {…}}` (the properties are the policy; tags, location, kind sit beside them). ARM
 * answers a GET with an envelope either way — id, name, type, properties, systemData, maybe an etag —
 * and may add `provisioningState` inside properties. Pure; serves one device's GET and, as well, each
 * entry of a list of the securityPolicies collection.
 */
import { isRecord, type PolicyDocument } from './policy-writer';

/** Top-level keys of an ARM resource envelope (id, name, type, properties, and the optional ones ARM adds). */
const ARM_ENVELOPE_KEYS = new Set([
  'id',
  'name',
  'type',
  'properties',
  'systemData',
  'etag',
  'location',
  'tags',
  'kind',
]);

/** Envelope keys the server sets: never part of what a document asks for. */
const SERVER_KEYS = new Set(['id', 'name', 'type', 'systemData', 'etag']);

/**
 * Whether a document is in ARM's resource form: `properties` an object and every other top-level key one
 * of an ARM resource's. Anything else is a bare policy.
 */
export function isArmResourceForm(document: PolicyDocument): document is { properties: PolicyDocument } {
  return isRecord(document.properties) && Object.keys(document).every((key) => ARM_ENVELOPE_KEYS.has(key));
}

/**
 * The stored properties from a GET: `properties` of an ARM resource envelope, else the body itself. An
 * envelope has an `id` naming a securityPolicies resource, or holds only envelope keys with an `id` or `type`.
 */
function storedProperties(body: Record<string, unknown>): unknown {
  if (!isRecord(body.properties)) return body;
  const namesThePolicy = typeof body.id === 'string' && /\/securityPolicies\//i.test(body.id);
  const onlyEnvelopeKeys =
    Object.keys(body).every((key) => ARM_ENVELOPE_KEYS.has(key)) &&
    (typeof body.id === 'string' || typeof body.type === 'string');
  return namesThePolicy || onlyEnvelopeKeys ? body.properties : body;
}

/**
 * A `provisioningState: Succeeded` that ARM adds to a resource's properties is not part of the policy
 * (unless the policy has one itself); any other state (Failed, Updating…) is kept, as the policy is then
 * not in place and must be written again.
 */
function withoutAddedState(stored: unknown, wanted: PolicyDocument): unknown {
  if (!isRecord(stored) || typeof stored.provisioningState !== 'string') return stored;
  if (Object.hasOwn(wanted, 'provisioningState')) return stored;
  if (stored.provisioningState.toLowerCase() !== 'succeeded') return stored;
  const { provisioningState: _added, ...policy } = stored;
  return policy;
}

/**
 * The observed resource in the form of `document`: for a bare document, the policy the resource holds;
 * for a resource-form document, `{properties: <that policy>}` plus the resource's values of the other keys
 * the document sets (tags, location, kind; the server's own keys are left out). Undefined for a body that
 * is not a JSON object.
 */
export function observedArmPolicy(resource: unknown, document: PolicyDocument): unknown {
  if (!isRecord(resource)) return undefined;
  if (!isArmResourceForm(document)) return withoutAddedState(storedProperties(resource), document);
  const observed: Record<string, unknown> = {
    properties: withoutAddedState(storedProperties(resource), document.properties),
  };
  for (const key of Object.keys(document)) {
    if (key !== 'properties' && !SERVER_KEYS.has(key) && Object.hasOwn(resource, key))
      observed[key] = resource[key];
  }
  return observed;
}

/** The document as it must compare with observedArmPolicy: the server's own keys are not compared. */
export function comparableArmDocument(document: PolicyDocument): PolicyDocument {
  if (!isArmResourceForm(document) || !Object.keys(document).some((key) => SERVER_KEYS.has(key)))
    return document;
  return Object.fromEntries(Object.entries(document).filter(([key]) => !SERVER_KEYS.has(key)));
}
