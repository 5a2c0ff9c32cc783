import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import { startEmulator, type Emulator } from '../../src/emulator';
import {
  call,
  errorCode,
  fetchToken,
  iotHubScope,
  managementScope,
  trustingAgent,
  twinApiVersion,
  twinUrl,
} from './helpers';

interface Twin {
  deviceId: string;
  etag: string;
  version: number;
  tags: Record<string, unknown>;
  properties: { desired: Record<string, unknown> & { $version: number }; reported: Record<string, unknown> };
}

void describe('emulator: IoT Hub data plane', () => {
  let emulator: Emulator;
  let agent: Agent;
  let token: string;
  before(async () => {
    emulator = await startEmulator({ devices: 25 });
    agent = trustingAgent(emulator);
    token = await fetchToken(agent, emulator, iotHubScope);
  });
  after(async () => {
    await agent.close();
    await emulator.close();
  });

  void it('GETs a twin with its etag, tags.securityPolicy and no policy yet', async () => {
    const result = await call(agent, twinUrl(emulator, 'device-0004'), { token });
    assert.equal(result.status, 200);
    const twin = result.json as Twin;
    assert.equal(twin.deviceId, 'device-0004');
    assert.equal(twin.tags['securityPolicy'], 'strict');
    assert.equal(result.headers['etag'], `"${twin.etag}"`);
    assert.equal(twin.properties.desired['securityPolicy'], undefined);
    assert.equal(emulator.state().devices['device-0004']?.twinPolicy, null);
  });

  void it('PATCHes desired properties with If-Match; a stale etag gets 412, * always applies', async () => {
    const before = (await call(agent, twinUrl(emulator, 'device-0001'), { token })).json as Twin;
    const policy = { name: 'baseline', version: 3 };
    const patched = await call(agent, twinUrl(emulator, 'device-0001'), {
      method: 'PATCH',
      token,
      headers: { 'if-match': `"${before.etag}"` },
      body: { properties: { desired: { securityPolicy: policy } } },
    });
    assert.equal(patched.status, 200);
    const twin = patched.json as Twin;
    assert.deepEqual(twin.properties.desired['securityPolicy'], policy);
    assert.equal(twin.properties.desired.$version, before.properties.desired.$version + 1);
    assert.notEqual(twin.etag, before.etag);

    const stale = await call(agent, twinUrl(emulator, 'device-0001'), {
      method: 'PATCH',
      token,
      headers: { 'if-match': `"${before.etag}"` },
      body: { properties: { desired: { securityPolicy: { name: 'strict' } } } },
    });
    assert.equal(stale.status, 412);
    assert.equal(errorCode(stale), 'PreconditionFailed');
    assert.equal(stale.headers['iothub-errorcode'], 'PreconditionFailed');

    const forced = await call(agent, twinUrl(emulator, 'device-0001'), {
      method: 'PATCH',
      token,
      headers: { 'if-match': '*' },
      body: {
        tags: { owner: 'ops' },
        properties: { desired: { securityPolicy: { name: 'strict', version: 5 } } },
      },
    });
    assert.equal(forced.status, 200);
    assert.equal((forced.json as Twin).tags['owner'], 'ops');
    assert.equal((forced.json as Twin).tags['securityPolicy'], 'baseline', 'a patch merges tags');

    // The device's answer (device-agents.test.ts) comes later and is left out here.
    const { acknowledgement, reportedPolicy, ...state } = emulator.state().devices['device-0001'] ?? {};
    assert.ok(acknowledgement === 'pending' || acknowledgement === 'applied', String(acknowledgement));
    assert.ok(reportedPolicy !== undefined);
    assert.deepEqual(state, {
      policy: null,
      writes: 2,
      armWrites: 0,
      twinWrites: 2,
      twinPolicy: { name: 'strict', version: 5 },
      connectionState: 'Connected',
    });
  });

  void it('refuses desired properties over 32 KB, unknown devices and bad bodies in IoT Hub’s error shape', async () => {
    const tooBig = await call(agent, twinUrl(emulator, 'device-0002'), {
      method: 'PATCH',
      token,
      body: { properties: { desired: { securityPolicy: { padding: 'x'.repeat(33 * 1024) } } } },
    });
    assert.equal(tooBig.status, 400);
    assert.equal(emulator.state().devices['device-0002']?.writes, 0);
    const unknown = await call(agent, twinUrl(emulator, 'device-0999'), { token });
    assert.equal(unknown.status, 404);
    const body = unknown.json as { Message: string; ExceptionMessage: string };
    assert.match(body.Message, /^ErrorCode:DeviceNotFound;/);
    assert.match(body.ExceptionMessage, /^Tracking ID:/);
    const notJson = await call(agent, twinUrl(emulator, 'device-0002'), {
      method: 'PATCH',
      token,
      body: '{oops',
    });
    assert.equal(notJson.status, 400);
    const badVersion = await call(agent, `${emulator.url}/twins/device-0002?api-version=1999-01-01`, {
      token,
    });
    assert.equal(errorCode(badVersion), 'InvalidProtocolVersion');
  });

  void it('accepts only iothubs.azure.net tokens', async () => {
    const managementToken = await fetchToken(agent, emulator, managementScope);
    const wrong = await call(agent, twinUrl(emulator, 'device-0003'), { token: managementToken });
    assert.equal(wrong.status, 401);
    assert.equal(errorCode(wrong), 'IotHubUnauthorizedAccess');
    const none = await call(agent, twinUrl(emulator, 'device-0003'));
    assert.equal(none.status, 401);
  });

  void it('pages the device query with x-ms-max-item-count and x-ms-continuation', async () => {
    const seen: Twin[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const headers: Record<string, string> = { 'x-ms-max-item-count': '10' };
      if (continuation) headers['x-ms-continuation'] = continuation;
      const page = await call(agent, `${emulator.url}/devices/query?api-version=${twinApiVersion}`, {
        method: 'POST',
        token,
        headers,
        body: { query: 'SELECT * FROM devices' },
      });
      assert.equal(page.status, 200);
      seen.push(...(page.json as Twin[]));
      continuation = page.headers['x-ms-continuation'];
      pages++;
    } while (continuation);
    assert.equal(pages, 3);
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen.map((twin) => twin.deviceId)).size, 25);
    const strict = await call(agent, `${emulator.url}/devices/query?api-version=${twinApiVersion}`, {
      method: 'POST',
      token,
      body: { query: "SELECT * FROM devices WHERE tags.securityPolicy = 'strict'" },
    });
    assert.deepEqual(
      (strict.json as Twin[]).map((twin) => twin.deviceId),
      ['device-0004', 'device-0008', 'device-0012', 'device-0016', 'device-0020', 'device-0024'],
    );
  });
});

void describe('emulator: IoT Hub without the data actions', () => {
  void it('answers 401 IotHubUnauthorized, as IoT Hub does for a principal with no assigned permissions', async () => {
    const emulator = await startEmulator({ devices: 2, grantOnStart: false });
    const agent = trustingAgent(emulator);
    try {
      const token = await fetchToken(agent, emulator, iotHubScope);
      const result = await call(agent, twinUrl(emulator, 'device-0001'), {
        method: 'PATCH',
        token,
        body: { properties: { desired: { securityPolicy: { name: 'baseline' } } } },
      });
      assert.equal(result.status, 401);
      assert.match(
        (result.json as { Message: string }).Message,
        /^ErrorCode:IotHubUnauthorized;Principal .* is not authorized for PATCH on \/twins\/device-0001 due to no assigned permissions/,
      );
      assert.equal(emulator.state().devices['device-0001']?.writes, 0);
    } finally {
      await agent.close();
      await emulator.close();
    }
  });
});
