import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  comparableArmDocument,
  isArmResourceForm,
  observedArmPolicy,
} from '../../src/azure/arm-policy-resource';
import { armPolicyMatches } from '../../src/azure/arm-policy-writer';

const scope = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/hub';
const policy = { version: 3, rules: [{ id: 'tls-min', value: '1.2' }] };

/** What ARM answers to a GET of the resource: the standard envelope, with what the server adds. */
function envelope(properties: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: `${scope}/securityPolicies/device-0001`,
    name: 'device-0001',
    type: 'Microsoft.Devices/IotHubs/securityPolicies',
    etag: 'W/"00000001"',
    ...extra,
    properties: { ...properties, provisioningState: 'Succeeded' },
    systemData: { createdBy: 'app', createdByType: 'Application', lastModifiedAt: '2026-01-01T00:00:00Z' },
  };
}

void describe('observedArmPolicy', () => {
  void it('a bare document: the policy inside the envelope, without what the server added', () => {
    assert.deepEqual(observedArmPolicy(envelope(policy), policy), policy);
    assert.ok(armPolicyMatches(envelope(policy), policy));
  });

  void it('a document in resource form: {properties} of the envelope, and the tags it sets', () => {
    const document = { properties: policy };
    assert.ok(isArmResourceForm(document));
    assert.deepEqual(observedArmPolicy(envelope(policy), document), document);
    assert.ok(armPolicyMatches(envelope(policy), document));
    const tagged = { properties: policy, tags: { owner: 'ops' } };
    assert.ok(armPolicyMatches(envelope(policy, { tags: { owner: 'ops' } }), tagged));
    assert.ok(!armPolicyMatches(envelope(policy, { tags: { owner: 'dev' } }), tagged));
    assert.ok(!armPolicyMatches(envelope(policy), tagged), 'tags missing on the resource');
    // The server's own keys in a document are not compared.
    const named = { name: 'whatever', properties: policy };
    assert.deepEqual(comparableArmDocument(named), { properties: policy });
    assert.ok(armPolicyMatches(envelope(policy), named));
  });

  void it('a different policy, a failed provisioning, or a state the document sets itself do not match', () => {
    for (const document of [policy, { properties: policy }]) {
      assert.ok(!armPolicyMatches(envelope({ ...policy, version: 4 }), document));
      const failed = { ...envelope(policy), properties: { ...policy, provisioningState: 'Failed' } };
      assert.ok(!armPolicyMatches(failed, document));
    }
    assert.ok(!armPolicyMatches(envelope(policy), { ...policy, provisioningState: 'Updating' }));
    assert.ok(armPolicyMatches(envelope(policy), { ...policy, provisioningState: 'Succeeded' }));
  });

  void it('a server answering with the bare body, or with no object at all', () => {
    assert.ok(armPolicyMatches(policy, policy));
    assert.equal(observedArmPolicy('not json', policy), undefined);
    assert.equal(observedArmPolicy(null, { properties: policy }), undefined);
  });

  void it('a bare policy with a key named properties beside others is not mistaken for the resource form', () => {
    const document = { properties: { a: 1 }, rules: [] };
    assert.ok(!isArmResourceForm(document));
    assert.ok(armPolicyMatches(envelope(document), document));
  });
});
