import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { startEmulator } from '../../src/emulator';
import {
  call,
  credentialFor,
  iotHubScope,
  managementScope,
  policyUrl,
  trustingAgent,
  twinUrl,
} from './helpers';

// Issue 3, first "Done when": real ClientSecretCredential → AuthorizationManagementClient → undici.
void it('emulator: a real credential gets tokens, the real ARM client lists permissions, undici writes a policy and a twin', async () => {
  const emulator = await startEmulator({ devices: 5 });
  const agent = trustingAgent(emulator);
  try {
    const credential = credentialFor(emulator);
    const client = new AuthorizationManagementClient(credential, emulator.hub.subscriptionId, {
      endpoint: emulator.url,
      credentialScopes: [managementScope],
      tlsOptions: { ca: emulator.caPem },
    });
    const permissions = [];
    for await (const permission of client.permissions.listForResource(
      emulator.hub.resourceGroup,
      'Microsoft.Devices',
      '',
      'IotHubs',
      emulator.hub.name,
    )) {
      permissions.push(permission);
    }
    assert.ok(
      permissions.some((permission) =>
        permission.actions?.includes('Microsoft.Devices/IotHubs/securityPolicies/write'),
      ),
    );

    const managementToken = (await credential.getToken(managementScope)).token;
    const document = { version: 3, rules: [{ id: 'ssh-off', setting: 'services.ssh', value: 'disabled' }] };
    const put = await call(agent, policyUrl(emulator, 'device-0001'), {
      method: 'PUT',
      token: managementToken,
      body: document,
    });
    assert.equal(put.status, 201);
    const get = await call(agent, policyUrl(emulator, 'device-0001'), { token: managementToken });
    assert.deepEqual((get.json as { properties: unknown }).properties, document);

    const iotHubToken = (await credential.getToken(iotHubScope)).token;
    const patch = await call(agent, twinUrl(emulator, 'device-0002'), {
      method: 'PATCH',
      token: iotHubToken,
      headers: { 'if-match': '*' },
      body: { properties: { desired: { securityPolicy: document } } },
    });
    assert.equal(patch.status, 200);

    const state = emulator.state();
    assert.deepEqual(state.devices['device-0001']?.policy, document);
    assert.deepEqual(state.devices['device-0002']?.twinPolicy, document);
    const writes = Object.values(state.devices).reduce((sum, device) => sum + device.writes, 0);
    assert.equal(writes, 2);
    assert.ok(emulator.issuedTokens().includes(managementToken));
  } finally {
    await agent.close();
    await emulator.close();
  }
});
