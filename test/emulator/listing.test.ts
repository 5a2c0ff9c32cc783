/**
 * Bulk reads: ARM's list of the hub's securityPolicies (nextLink, $skiptoken) and IoT Hub's device query
 * with projections (x-ms-max-item-count, x-ms-continuation), with their failure modes as settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Agent } from 'undici';
import type { Emulator } from '../../src/emulator';
import {
  call,
  errorCode,
  fetchToken,
  iotHubScope,
  managementScope,
  policyApiVersion,
  policyUrl,
  sleep,
  twinApiVersion,
  twinUrl,
  withEmulator,
  type HttpResult,
} from './helpers';

const observationQuery =
  'SELECT deviceId, properties.desired.securityPolicy AS desiredPolicy, properties.reported.securityPolicy ' +
  'AS reportedPolicy, properties.desired.$version AS desiredVersion, ' +
  'properties.desired.$metadata.securityPolicy.$lastUpdatedVersion AS policyVersion, connectionState, etag FROM devices';

interface ArmPage {
  value: { id: string; name: string; type: string; properties: unknown }[];
  nextLink?: string;
}

function listUrl(emulator: Emulator): string {
  return `${emulator.url}${emulator.hub.scope}/securityPolicies?api-version=${policyApiVersion}`;
}

async function writePolicies(
  emulator: Emulator,
  agent: Agent,
  token: string,
  deviceIds: string[],
): Promise<void> {
  for (const deviceId of deviceIds) {
    const put = await call(agent, policyUrl(emulator, deviceId), {
      method: 'PUT',
      token,
      body: { version: 1, owner: deviceId },
    });
    assert.equal(put.status, 201);
  }
}

function query(
  emulator: Emulator,
  agent: Agent,
  token: string,
  text: string,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return call(agent, `${emulator.url}/devices/query?api-version=${twinApiVersion}`, {
    method: 'POST',
    token,
    body: { query: text },
    headers,
  });
}

const ids = (count: number, from = 1): string[] =>
  Array.from({ length: count }, (_, i) => `device-${String(i + from).padStart(4, '0')}`);

void describe('emulator: ARM list of securityPolicies', () => {
  void it('pages by the configured size with an absolute nextLink until absent; items as a GET returns them', async () => {
    await withEmulator({ devices: 30, faults: { listing: { armPageSize: 7 } } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      await writePolicies(emulator, agent, token, ids(20));
      const single = await call(agent, policyUrl(emulator, 'device-0009'), { token });

      const pages: ArmPage[] = [];
      let url: string | undefined = listUrl(emulator);
      while (url) {
        const page = await call(agent, url, { token });
        assert.equal(page.status, 200, page.text);
        const body = page.json as ArmPage;
        pages.push(body);
        if (body.nextLink) {
          assert.ok(body.nextLink.startsWith(`${emulator.url}${emulator.hub.scope}/securityPolicies?`));
          assert.match(body.nextLink, /(\$|%24)skiptoken=/);
          assert.match(body.nextLink, /api-version=2021-07-01/);
        }
        url = body.nextLink;
      }
      assert.deepEqual(
        pages.map((p) => p.value.length),
        [7, 7, 6],
      );
      const items = pages.flatMap((p) => p.value);
      assert.deepEqual(
        items.map((item) => item.name),
        ids(20),
        'only devices with a policy, each once',
      );
      assert.deepEqual(items[8], single.json);
    });
  });

  void it('throttles list pages from the read bucket with Retry-After', async () => {
    await withEmulator(
      {
        devices: 10,
        faults: {
          listing: { armPageSize: 1 },
          throttling: { armReads: { burst: 2, refillPerSec: 0.5 } },
        },
      },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, managementScope);
        await writePolicies(emulator, agent, token, ids(3));
        const first = await call(agent, listUrl(emulator), { token });
        assert.equal(first.status, 200);
        const second = await call(agent, (first.json as ArmPage).nextLink!, { token });
        assert.equal(second.status, 200);
        const third = await call(agent, (second.json as ArmPage).nextLink!, { token });
        assert.equal(third.status, 429);
        assert.equal(errorCode(third), 'SubscriptionRequestsThrottled');
        assert.equal(third.headers['retry-after'], '2');
      },
    );
  });

  void it('answers 403 while the role propagates (securityPolicies/read authorizes the list)', async () => {
    await withEmulator(
      { devices: 5, faults: { propagation: { delayMs: 60_000 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, managementScope);
        const refused = await call(agent, listUrl(emulator), { token });
        assert.equal(refused.status, 403);
        assert.equal(errorCode(refused), 'AuthorizationFailed');
        assert.match(refused.text, /securityPolicies\/read/);
        emulator.setProfile('calm');
        assert.equal((await call(agent, listUrl(emulator), { token })).status, 200);
      },
    );
  });

  void it('refuses a $skiptoken older than the continuation lifetime with 400 InvalidSkipToken', async () => {
    await withEmulator(
      { devices: 5, faults: { listing: { armPageSize: 2, continuationTtlMs: 150 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, managementScope);
        await writePolicies(emulator, agent, token, ids(5));
        const first = (await call(agent, listUrl(emulator), { token })).json as ArmPage;
        const fresh = await call(agent, first.nextLink!, { token });
        assert.equal(fresh.status, 200, 'used at once, the continuation is good');
        const second = fresh.json as ArmPage;
        await sleep(300);
        const stale = await call(agent, second.nextLink!, { token });
        assert.equal(stale.status, 400);
        assert.equal(errorCode(stale), 'InvalidSkipToken');
        assert.match(stale.text, /expired/);
        const forged = await call(agent, `${listUrl(emulator)}&$skiptoken=nonsense`, { token });
        assert.equal(errorCode(forged), 'InvalidSkipToken');
      },
    );
  });

  void it('refuses the collection GET with 405 when the list is unsupported; single GETs still work', async () => {
    await withEmulator(
      { devices: 5, faults: { listing: { armListUnsupported: true } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, managementScope);
        await writePolicies(emulator, agent, token, ids(1));
        const refused = await call(agent, listUrl(emulator), { token });
        assert.equal(refused.status, 405);
        assert.equal(errorCode(refused), 'MethodNotAllowed');
        assert.equal((await call(agent, policyUrl(emulator, 'device-0001'), { token })).status, 200);
      },
    );
  });
});

void describe('emulator: IoT Hub device query with projections', () => {
  void it('projects with AS, names an un-aliased column after its last segment, refuses colliding names', async () => {
    await withEmulator({ devices: 4 }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, iotHubScope);
      const policy = { version: 2, rules: ['a'] };
      const patched = await call(agent, twinUrl(emulator, 'device-0002'), {
        method: 'PATCH',
        token,
        body: { properties: { desired: { securityPolicy: policy } } },
      });
      assert.equal(patched.status, 200);
      const twin = patched.json as { etag: string; properties: { desired: { $version: number } } };

      const result = await query(emulator, agent, token, observationQuery);
      assert.equal(result.status, 200, result.text);
      assert.equal(result.headers['x-ms-item-type'], 'raw');
      const rows = result.json as Record<string, unknown>[];
      assert.equal(rows.length, 4);
      assert.deepEqual(rows[1], {
        deviceId: 'device-0002',
        desiredPolicy: policy,
        desiredVersion: twin.properties.desired.$version,
        policyVersion: twin.properties.desired.$version,
        connectionState: 'Connected',
        etag: twin.etag,
      });
      assert.deepEqual(Object.keys(rows[0]!).sort(), [
        'connectionState',
        'desiredVersion',
        'deviceId',
        'etag',
      ]);

      const unaliased = await query(
        emulator,
        agent,
        token,
        'SELECT deviceId, properties.desired.securityPolicy FROM devices',
      );
      assert.equal(unaliased.status, 200);
      assert.deepEqual((unaliased.json as Record<string, unknown>[])[1], {
        deviceId: 'device-0002',
        securityPolicy: policy,
      });
      const colliding = await query(
        emulator,
        agent,
        token,
        'SELECT properties.desired.securityPolicy, properties.reported.securityPolicy FROM devices',
      );
      assert.equal(colliding.status, 400);
      assert.equal(errorCode(colliding), 'ArgumentInvalid');
      assert.match(colliding.text, /securityPolicy/);
    });
  });

  void it('pages by the smaller of x-ms-max-item-count and the hub cap, with x-ms-continuation', async () => {
    await withEmulator(
      { devices: 23, faults: { listing: { queryPageCap: 10 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        const sizes: number[] = [];
        let continuation: string | undefined;
        const seen: string[] = [];
        do {
          const page = await query(emulator, agent, token, observationQuery, {
            'x-ms-max-item-count': '1000',
            ...(continuation ? { 'x-ms-continuation': continuation } : {}),
          });
          assert.equal(page.status, 200);
          const rows = page.json as { deviceId: string }[];
          sizes.push(rows.length);
          seen.push(...rows.map((row) => row.deviceId));
          continuation = page.headers['x-ms-continuation'];
        } while (continuation);
        assert.deepEqual(sizes, [10, 10, 3]);
        assert.deepEqual(seen, ids(23));
        const small = await query(emulator, agent, token, observationQuery, { 'x-ms-max-item-count': '3' });
        assert.equal((small.json as unknown[]).length, 3);
      },
    );
  });

  void it('throttles past queriesPerMinute with 429 ThrottlingException', async () => {
    await withEmulator(
      { devices: 3, faults: { listing: { queriesPerMinute: 2 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        assert.equal((await query(emulator, agent, token, observationQuery)).status, 200);
        assert.equal((await query(emulator, agent, token, observationQuery)).status, 200);
        const throttled = await query(emulator, agent, token, observationQuery);
        assert.equal(throttled.status, 429);
        assert.equal(throttled.headers['iothub-errorcode'], 'ThrottlingException');
        assert.equal(emulator.state().faults.throttled, 1);
      },
    );
  });

  void it('answers 401 IotHubUnauthorized while the role propagates', async () => {
    await withEmulator(
      { devices: 3, faults: { propagation: { delayMs: 60_000 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        const refused = await query(emulator, agent, token, observationQuery);
        assert.equal(refused.status, 401);
        assert.equal(errorCode(refused), 'IotHubUnauthorized');
      },
    );
  });

  void it('refuses an expired continuation with 400, and a projection on a hub that does not support it', async () => {
    await withEmulator(
      { devices: 5, faults: { listing: { continuationTtlMs: 150 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        const first = await query(emulator, agent, token, observationQuery, { 'x-ms-max-item-count': '2' });
        const continuation = first.headers['x-ms-continuation']!;
        await sleep(300);
        const stale = await query(emulator, agent, token, observationQuery, {
          'x-ms-max-item-count': '2',
          'x-ms-continuation': continuation,
        });
        assert.equal(stale.status, 400);
        assert.equal(errorCode(stale), 'ArgumentInvalid');
        assert.match(stale.text, /expired/);

        emulator.setProfile('calm', { listing: { queryUnsupported: true } });
        const unsupported = await query(emulator, agent, token, observationQuery);
        assert.equal(unsupported.status, 400);
        assert.equal(errorCode(unsupported), 'BadRequest');
        const whole = await query(emulator, agent, token, 'SELECT * FROM devices');
        assert.equal(whole.status, 200, 'SELECT * still works');
      },
    );
  });
});

void describe('emulator: tampering with stored policies', () => {
  void it('sets the ARM resource or the desired property directly, in process and over /_emulator/tamper', async () => {
    await withEmulator({ devices: 3 }, async (emulator, agent) => {
      emulator.tamperPolicy('device-0001', { drifted: true });
      emulator.tamperPolicy('device-0002', { drifted: 'twin' }, 'twin');
      const overHttp = await call(agent, `${emulator.url}/_emulator/tamper`, {
        method: 'POST',
        body: { deviceId: 'device-0003', target: 'twin', document: { via: 'http' } },
      });
      assert.equal(overHttp.status, 204);
      const unknown = await call(agent, `${emulator.url}/_emulator/tamper`, {
        method: 'POST',
        body: { deviceId: 'ghost', document: null },
      });
      assert.equal(unknown.status, 404);
      const state = emulator.state();
      assert.deepEqual(state.devices['device-0001']?.policy, { drifted: true });
      assert.deepEqual(state.devices['device-0002']?.twinPolicy, { drifted: 'twin' });
      assert.deepEqual(state.devices['device-0003']?.twinPolicy, { via: 'http' });
      assert.equal(state.devices['device-0001']?.writes, 0, 'a tamper is not a write of the product');

      const token = await fetchToken(agent, emulator, iotHubScope);
      const twin = (await call(agent, twinUrl(emulator, 'device-0002'), { token })).json as {
        properties: { desired: { $version: number } };
      };
      assert.equal(twin.properties.desired.$version, 2, 'a new desired version');
    });
  });
});
