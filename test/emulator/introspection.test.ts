import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startEmulator, type EmulatorState } from '../../src/emulator';
import { call, fetchToken, managementScope, permissionsUrl, policyUrl, trustingAgent } from './helpers';

void describe('emulator: introspection and files', () => {
  void it('writes the inventory, the policies, the CA and a bundle that keeps the system CAs', async () => {
    const emulator = await startEmulator({ devices: 12 });
    try {
      const devices = JSON.parse(readFileSync(emulator.env['DEVICES_FILE']!, 'utf8')) as {
        deviceId: string;
        policy: string;
      }[];
      assert.equal(devices.length, 12);
      assert.deepEqual(devices[0], { deviceId: 'device-0001', policy: 'baseline' });
      const policies = JSON.parse(readFileSync(emulator.env['POLICIES_FILE']!, 'utf8')) as Record<
        string,
        unknown
      >;
      for (const { policy } of devices) assert.ok(policies[policy], `policy ${policy} is defined`);
      assert.ok(new Set(devices.map((device) => device.policy)).size >= 2);
      const bundle = readFileSync(emulator.caBundlePath, 'utf8');
      assert.ok(bundle.endsWith(emulator.caPem));
      assert.equal(readFileSync(emulator.caPath, 'utf8'), emulator.caPem);
      assert.equal(emulator.env['NODE_EXTRA_CA_CERTS'], emulator.caBundlePath);
      assert.equal(emulator.env['IOT_HUB_HOST'], `127.0.0.1:${emulator.port}`);
      assert.equal(emulator.env['ARM_ENDPOINT'], emulator.url);
      assert.equal(emulator.env['AZURE_AUTHORITY_HOST'], emulator.url);
      assert.equal(Object.keys(startEmulatorDeviceIds(emulator.state())).length, 12);
    } finally {
      await emulator.close();
    }
  });

  void it('GET state, POST profile and POST reset over HTTP, with a fresh propagation clock after reset', async () => {
    const emulator = await startEmulator({ devices: 4 });
    const agent = trustingAgent(emulator);
    try {
      const token = await fetchToken(agent, emulator, managementScope);
      assert.equal(
        (
          await call(agent, policyUrl(emulator, 'device-0001'), {
            method: 'PUT',
            token,
            body: { version: 1 },
          })
        ).status,
        201,
      );
      const state = (await call(agent, `${emulator.url}/_emulator/state`)).json as EmulatorState;
      assert.equal(state.devices['device-0001']?.writes, 1);
      assert.equal(state.requests['201'], 1);
      assert.equal(state.tokensIssued, 1);
      assert.equal(state.profile, 'calm');

      const badProfile = await call(agent, `${emulator.url}/_emulator/profile`, {
        method: 'POST',
        body: { profile: 'stormy' },
      });
      assert.equal(badProfile.status, 400);
      const profiled = await call(agent, `${emulator.url}/_emulator/profile`, {
        method: 'POST',
        body: { profile: 'seed', faults: { propagation: { delayMs: 60_000 } } },
      });
      assert.equal(profiled.status, 200);
      assert.equal((profiled.json as EmulatorState).settings.propagation.delayMs, 60_000);
      assert.equal((profiled.json as EmulatorState).settings.propagation.flakyRatio, 0.6);

      const reset = await call(agent, `${emulator.url}/_emulator/reset`, {
        method: 'POST',
        body: { devices: 6 },
      });
      assert.equal(reset.status, 200);
      const after = reset.json as EmulatorState;
      assert.equal(Object.keys(after.devices).length, 6);
      assert.ok(
        Object.values(after.devices).every((device) => device.policy === null && device.writes === 0),
      );
      assert.deepEqual(after.requests, {});
      assert.equal(after.tokensIssued, 0);
      assert.equal(after.profile, 'seed', 'reset keeps the profile');
      const devices = JSON.parse(readFileSync(emulator.env['DEVICES_FILE']!, 'utf8')) as unknown[];
      assert.equal(devices.length, 6);
      // The token issued before the reset still works; the re-created grant has not propagated yet.
      const permissions = await call(agent, permissionsUrl(emulator), { token });
      assert.deepEqual(permissions.json, { value: [] });
      assert.ok(emulator.issuedTokens().includes(token));
    } finally {
      await agent.close();
      await emulator.close();
    }
  });
});

function startEmulatorDeviceIds(state: EmulatorState): Record<string, unknown> {
  return state.devices;
}
