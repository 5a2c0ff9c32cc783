/**
 * TEMPORAL_ADDRESS: what the Temporal SDK accepts passes; what it would refuse later (or misread) is a
 * configuration problem now, with exit 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { syncInput } from '../src/cli/sync-runs';
import { ConfigError, configSchema, loadConfig, loadTemporalConfig } from '../src/config';
import { metricsBindAddress } from '../src/worker';

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

/** The smallest worker configuration, for the tests of single variables. */
const env = {
  AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
  AZURE_RESOURCE_GROUP: 'rg',
  IOT_HUB_NAME: 'hub-1',
  DEVICES_FILE: 'devices.json',
  POLICIES_FILE: 'policies.json',
};

void describe('variables with a few allowed words (POLICY_TARGET, INVENTORY_SOURCE)', () => {
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

void describe('WORKER_METRICS_HOST and WORKER_METRICS_PORT', () => {
  void it('serves on every interface by default, on the address given, and not at all without a port', () => {
    assert.equal(metricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '9464' })), '0.0.0.0:9464');
    assert.equal(
      metricsBindAddress(
        loadConfig({ ...env, WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: '127.0.0.1' }),
      ),
      '127.0.0.1:9464',
    );
    assert.equal(
      metricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: '::1' })),
      '[::1]:9464',
    );
    assert.equal(metricsBindAddress(loadConfig({ ...env, WORKER_METRICS_HOST: '127.0.0.1' })), undefined);
    assert.equal(metricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '0' })), undefined);
  });

  void it('refuses a host name or an address with a port, naming the variable', () => {
    for (const value of ['localhost', '127.0.0.1:9464', 'http://0.0.0.0']) {
      assert.throws(
        () => loadConfig({ ...env, WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.some((p) => /^WORKER_METRICS_HOST must be an IP address/.test(p)),
        value,
      );
    }
  });
});

void describe('POLICY_ACK_DEADLINE (and --ack-deadline)', () => {
  const env = { IOT_HUB_NAME: 'hub-1', POLICY_TARGET: 'twin' };

  void it('reads a duration, or 0; unset leaves the workflow its default; only twin inputs carry it', () => {
    assert.equal(loadTemporalConfig({ ...env, POLICY_ACK_DEADLINE: '60s' }).policy.ackDeadlineInMs, 60_000);
    assert.equal(loadTemporalConfig({ ...env, POLICY_ACK_DEADLINE: ' 0 ' }).policy.ackDeadlineInMs, 0);
    assert.equal(loadTemporalConfig(env).policy.ackDeadlineInMs, undefined);
    assert.equal(
      syncInput(loadTemporalConfig({ ...env, POLICY_ACK_DEADLINE: '2m' })).ackDeadlineInMs,
      120_000,
    );
    assert.equal(syncInput(loadTemporalConfig(env)).ackDeadlineInMs, undefined);
    const arm = loadTemporalConfig({ ...env, POLICY_TARGET: 'arm', POLICY_ACK_DEADLINE: '2m' });
    assert.equal(syncInput(arm).ackDeadlineInMs, undefined, 'arm writes have no device answer to wait for');
  });

  void it('refuses what is not a duration, or more than a day, naming the variable and the flag', () => {
    for (const [value, why] of [
      ['soon', /POLICY_ACK_DEADLINE \(or --ack-deadline\) must be a duration like 60s/],
      ['25h', /POLICY_ACK_DEADLINE \(or --ack-deadline\) must be at most 24h/],
    ] as const)
      assert.throws(
        () => loadTemporalConfig({ ...env, POLICY_ACK_DEADLINE: value }),
        (e: unknown) => e instanceof ConfigError && why.test(e.problems.join('\n')),
        value,
      );
  });
});
