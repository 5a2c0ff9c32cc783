/**
 * TEMPORAL_ADDRESS: what the Temporal SDK accepts passes; what it would refuse later (or misread) is a
 * configuration problem now, with exit 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configSchema, loadConfig } from '../src/config';

void describe('TEMPORAL_ADDRESS', () => {
  const address = configSchema.shape.TEMPORAL_ADDRESS;

  void it('accepts host[:port] as the SDK does', () => {
    for (const value of [
      'localhost:7233',
      ' localhost:7233 ',
      'temporal',
      '127.0.0.1:7233',
      '[::1]:7233',
      'my-ns.a1b2c.tmprl.cloud:7233',
      'proj_temporal_1:7233',
    ]) {
      assert.equal(address.safeParse(value).success, true, value);
    }
  });

  void it('refuses a scheme, a bad port, spaces, stray colons', () => {
    for (const value of ['http://localhost:7233', 'not:a:port', 'h:0', 'h:70000', 'a b:7233', 'h:', '']) {
      const result = address.safeParse(value);
      assert.equal(result.success, false, value);
      assert.match(result.error!.issues[0]!.message, /must be host\[:port\]/, value);
    }
  });
});

void describe('variables with a few allowed words (POLICY_TARGET, INVENTORY_SOURCE)', () => {
  const env = {
    AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
    AZURE_RESOURCE_GROUP: 'rg',
    IOT_HUB_NAME: 'hub-1',
    DEVICES_FILE: 'devices.json',
    POLICIES_FILE: 'policies.json',
  };

  void it('are trimmed like every other variable', () => {
    const config = loadConfig({ ...env, POLICY_TARGET: 'twin\n', INVENTORY_SOURCE: ' hub ' });
    assert.equal(config.policy.target, 'twin');
    assert.equal(config.inventory.source, 'hub');
    const defaults = loadConfig({ ...env, POLICY_TARGET: ' ', INVENTORY_SOURCE: '' });
    assert.equal(defaults.policy.target, 'arm');
    assert.equal(defaults.inventory.source, 'file');
  });

  void it('are refused showing the value JSON-quoted', () => {
    assert.throws(
      () => loadConfig({ ...env, POLICY_TARGET: 'blob\n', INVENTORY_SOURCE: 'files ' }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(e.problems, [
          `POLICY_TARGET must be 'arm' or 'twin' (got "blob\\n")`,
          `INVENTORY_SOURCE must be 'file' or 'hub' (got "files ")`,
        ]);
        return true;
      },
    );
  });
});
