import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { Agent, fetch } from 'undici';
import { startEmulator, type Emulator } from '../../src/emulator';
import { requestBreakdown, requestKind } from '../../bench/request-breakdown';

void describe('requests by kind', () => {
  void it('sorts the paths the emulator serves', () => {
    const hub = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/h';
    const cases: [string, string, string][] = [
      ['POST', '/tenant/oauth2/v2.0/token', 'tokenAndDiscovery'],
      ['GET', '/tenant/v2.0/.well-known/openid-configuration', 'tokenAndDiscovery'],
      ['GET', '/common/discovery/instance', 'tokenAndDiscovery'],
      ['GET', `${hub}/providers/Microsoft.Authorization/permissions`, 'permissionChecks'],
      ['GET', '/subscriptions/s/providers/Microsoft.Authorization/roleAssignments', 'permissionChecks'],
      ['GET', `${hub}/securityPolicies`, 'reads'],
      ['GET', `${hub}/securityPolicies/device-0001`, 'reads'],
      ['PUT', `${hub}/securityPolicies/device-0001`, 'writes'],
      ['DELETE', `${hub}/securityPolicies/device-0001`, 'other'],
      ['POST', '/devices/query', 'reads'],
      ['GET', '/twins/device-0001', 'reads'],
      ['PATCH', '/twins/device-0001', 'writes'],
      ['GET', '/nothing-here', 'other'],
    ];
    for (const [method, path, kind] of cases)
      assert.equal(requestKind({ method, path }), kind, `${method} ${path}`);
  });

  void it('takes the total from the counters, which the log may have outgrown', () => {
    const counts = requestBreakdown(
      [{ method: 'PUT', path: '/subscriptions/x/securityPolicies/d', status: 403 }],
      {
        responsesByStatus: { '200': 5, '403': 2 },
        dropped: 1,
      },
    );
    assert.equal(counts.total, 8);
    assert.equal(counts.logged, 1);
    assert.equal(counts.status403, 2);
    assert.equal(counts.writes, 1);
  });
});

/**
 * What the emulator logs, with the real @azure/identity and a real PUT: the Entra ID requests (OpenID
 * metadata and the token grant) are in the log, and so is a write refused while the grant propagates.
 */
void describe('the emulator logs every request a side makes', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator({
      devices: 3,
      profile: 'seed',
      faults: {
        propagation: { delayMs: 60_000, flakyWindowMs: 0, flakyRatio: 0 },
        latency: { fixedMs: 0, jitterMs: 0 },
      },
    });
  });
  after(() => emulator.close());

  void it('counts discovery, the token and a refused write', async () => {
    emulator.reset({ devices: 3 });
    const credential = new ClientSecretCredential(
      emulator.principal.tenantId,
      emulator.principal.clientId,
      emulator.principal.clientSecret,
      { authorityHost: emulator.url, disableInstanceDiscovery: true, tlsOptions: { ca: emulator.caPem } },
    );
    const token = await credential.getToken('https://management.azure.com/.default');
    const { env } = emulator;
    const url =
      `${emulator.url}/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/${env.AZURE_RESOURCE_GROUP}` +
      `/providers/Microsoft.Devices/IotHubs/${env.IOT_HUB_NAME}/securityPolicies/device-0001?api-version=2021-07-01`;
    const dispatcher = new Agent({ connect: { ca: emulator.caPem } });
    const response = await fetch(url, {
      method: 'PUT',
      dispatcher,
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: {} }),
    });
    await response.arrayBuffer();
    await dispatcher.close();
    assert.equal(response.status, 403, 'the grant has not appeared yet');

    const state = emulator.state();
    const log = emulator.requestLog();
    const counts = requestBreakdown(log, {
      responsesByStatus: state.requests,
      dropped: state.faults.dropped,
    });
    const entra = log.filter((r) => requestKind(r) === 'tokenAndDiscovery').map((r) => r.path);
    assert.ok(
      entra.some((p) => p.endsWith('/oauth2/v2.0/token')),
      `token request logged: ${entra.join(', ')}`,
    );
    assert.ok(
      entra.some((p) => p.includes('openid-configuration')),
      `OpenID metadata logged: ${entra.join(', ')}`,
    );
    assert.equal(counts.tokenAndDiscovery, entra.length);
    assert.equal(counts.writes, 1);
    assert.equal(counts.status403, 1);
    assert.equal(counts.total, log.length);
    assert.equal(counts.total, counts.tokenAndDiscovery + 1, 'nothing else reached the emulator');
  });
});
