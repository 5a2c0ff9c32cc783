import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { Agent } from 'undici';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator';
import {
  call,
  credentialFor,
  errorCode,
  fetchToken,
  iotHubScope,
  managementScope,
  permissionsUrl,
  policyUrl,
  sleep,
  trustingAgent,
  twinUrl,
  type HttpResult,
} from './helpers';

/** A call whose dropped connection shows as status 0 instead of a thrown error. */
type Outcome = HttpResult | { status: 0; headers: Record<string, string>; text: ''; json: undefined };

async function attempt(run: () => Promise<HttpResult>): Promise<Outcome> {
  try {
    return await run();
  } catch {
    return { status: 0, headers: {}, text: '', json: undefined };
  }
}

async function withEmulator(options: EmulatorOptions, body: (emulator: Emulator, agent: Agent) => Promise<void>): Promise<void> {
  const emulator = await startEmulator({ devices: 300, ...options });
  const agent = trustingAgent(emulator);
  try {
    await body(emulator, agent);
  } finally {
    await agent.close();
    await emulator.close();
  }
}

/** Milliseconds until the start grant has appeared (plus a margin). */
function untilGrantVisible(emulator: Emulator, delayMs: number): number {
  const createdOn = emulator.state().roleAssignments[0]?.createdOn;
  assert.ok(createdOn, 'the start grant exists');
  return Math.max(0, Date.parse(createdOn) + delayMs + 50 - Date.now());
}

const document = { version: 1, rules: [] };

describe('emulator faults: calm', () => {
  it('lets every call through untouched', async () => {
    await withEmulator({ profile: 'calm' }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          call(agent, policyUrl(emulator, `device-${String(i + 1).padStart(4, '0')}`), { method: 'PUT', token, body: document }),
        ),
      );
      assert.ok(results.every((result) => result.status === 201));
      const { faults, requests } = emulator.state();
      assert.deepEqual(Object.values(faults), [0, 0, 0, 0, 0, 0, 0]);
      assert.equal(requests['201'], 120);
    });
  });
});

describe('emulator faults: seed', () => {
  it('hides a new grant for 3 s, then refuses about 60% of its calls while it settles, with a little latency', async () => {
    await withEmulator({ profile: 'seed', devices: 300 }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const early = await call(agent, permissionsUrl(emulator), { token });
      assert.deepEqual(early.json, { value: [] }, 'the grant is not visible yet');
      const refused = await call(agent, policyUrl(emulator, 'device-0001'), { method: 'PUT', token, body: document });
      assert.equal(refused.status, 403);
      assert.equal(errorCode(refused), 'AuthorizationFailed');
      assert.equal(emulator.state().faults.propagationPending, 1);

      await sleep(untilGrantVisible(emulator, 3_000));
      const visible = await call(agent, permissionsUrl(emulator), { token });
      assert.equal((visible.json as { value: unknown[] }).value.length, 1);
      const started = Date.now();
      const results: HttpResult[] = [];
      for (let i = 1; i <= 200; i++) {
        results.push(await call(agent, policyUrl(emulator, `device-${String(i).padStart(4, '0')}`), { method: 'PUT', token, body: document }));
      }
      const elapsedPerCall = (Date.now() - started) / 200;
      const forbidden = results.filter((result) => result.status === 403).length;
      assert.ok(forbidden > 90 && forbidden < 150, `${forbidden} of 200 refused while settling`);
      assert.equal(results.filter((result) => result.status === 201).length, 200 - forbidden);
      assert.equal(emulator.state().faults.propagationSettling, forbidden);
      assert.ok(elapsedPerCall >= 2, `seed latency adds at least 2 ms per call (saw ${elapsedPerCall.toFixed(1)} ms)`);
    });
  });

  it('lets every call through once the settling window has passed (window shortened for the test)', async () => {
    await withEmulator(
      { profile: 'seed', faults: { propagation: { delayMs: 200, flakyWindowMs: 400 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, managementScope);
        await sleep(untilGrantVisible(emulator, 600));
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            call(agent, policyUrl(emulator, `device-${String(i + 1).padStart(4, '0')}`), { method: 'PUT', token, body: document }),
          ),
        );
        assert.ok(results.every((result) => result.status === 201));
      },
    );
  });
});

describe('emulator faults: throttled', () => {
  it('applies ARM’s write and read buckets with 429, Retry-After and the remaining-requests headers', async () => {
    await withEmulator({ profile: 'throttled' }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const first = await call(agent, policyUrl(emulator, 'device-0001'), { method: 'PUT', token, body: document });
      assert.equal(first.headers['x-ms-ratelimit-remaining-subscription-writes'], '199');
      const writes = await Promise.all(
        Array.from({ length: 260 }, (_, i) =>
          call(agent, policyUrl(emulator, `device-${String((i % 300) + 1).padStart(4, '0')}`), { method: 'PUT', token, body: document }),
        ),
      );
      const throttled = writes.filter((result) => result.status === 429);
      assert.ok(throttled.length >= 40, `${throttled.length} writes throttled`);
      assert.ok(writes.filter((result) => result.status < 300).length >= 199);
      for (const result of throttled) {
        assert.equal(errorCode(result), 'SubscriptionRequestsThrottled');
        assert.ok(Number(result.headers['retry-after']) >= 1);
        assert.equal(result.headers['x-ms-ratelimit-remaining-subscription-writes'], '0');
      }
      const reads = await Promise.all(Array.from({ length: 300 }, () => call(agent, permissionsUrl(emulator), { token })));
      assert.ok(reads.filter((result) => result.status === 429).length >= 30);
      assert.equal(emulator.state().faults.throttled, throttled.length + reads.filter((result) => result.status === 429).length);

      await sleep(Number(throttled[0]?.headers['retry-after'] ?? '1') * 1000);
      const later = await call(agent, policyUrl(emulator, 'device-0002'), { method: 'PUT', token, body: document });
      assert.equal(later.status, 200);
    });
  });

  it('throttles twin updates at 50 per second', async () => {
    await withEmulator({ profile: 'throttled' }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, iotHubScope);
      const started = Date.now();
      const patches = await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          call(agent, twinUrl(emulator, `device-${String(i + 1).padStart(4, '0')}`), {
            method: 'PATCH',
            token,
            body: { properties: { desired: { securityPolicy: document } } },
          }),
        ),
      );
      const elapsedSec = (Date.now() - started) / 1000;
      const throttled = patches.filter((result) => result.status === 429);
      const accepted = patches.filter((result) => result.status === 200).length;
      assert.equal(accepted + throttled.length, 150);
      assert.ok(accepted <= 50 + Math.ceil(50 * elapsedSec), `${accepted} accepted in ${elapsedSec.toFixed(2)} s`);
      assert.ok(throttled.length > 0);
      assert.equal(errorCode(throttled[0]!), 'ThrottlingException');
      const written = Object.values(emulator.state().devices).filter((device) => device.twinPolicy !== null).length;
      assert.equal(written, accepted, 'the state holds exactly the updates that were accepted');
    });
  });
});

describe('emulator faults: hostile', () => {
  it('shows propagation, throttling, 500, 503, dropped connections, claims challenges and latency at once', async () => {
    await withEmulator({ profile: 'hostile' }, async (emulator, agent) => {
      let token = await fetchToken(agent, emulator, managementScope);
      const outcomes: Outcome[] = [];
      const started = Date.now();
      for (let batch = 0; batch < 20; batch++) {
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => {
            const device = `device-${String(((batch * 30 + i) % 300) + 1).padStart(4, '0')}`;
            return attempt(() => call(agent, policyUrl(emulator, device), { method: 'PUT', token, body: document }));
          }),
        );
        outcomes.push(...results);
        if (results.some((result) => /insufficient_claims/.test(result.headers['www-authenticate'] ?? ''))) {
          token = await fetchToken(agent, emulator, managementScope);
        }
      }
      const statuses = new Set(outcomes.map((outcome) => outcome.status));
      for (const status of [0, 401, 403, 429, 500, 503]) assert.ok(statuses.has(status), `saw status ${status}: ${[...statuses].join(',')}`);
      const challenge = outcomes.find((outcome) => outcome.status === 401);
      assert.match(challenge?.headers['www-authenticate'] ?? '', /error="insufficient_claims", claims="[A-Za-z0-9+/=]+"/);
      assert.ok(outcomes.filter((outcome) => outcome.status === 503).every((outcome) => Number(outcome.headers['retry-after']) >= 1));
      assert.ok(Date.now() - started >= 10 * 5, 'every call waits at least the fixed latency');
      const { faults } = emulator.state();
      for (const [name, count] of Object.entries(faults)) {
        if (name !== 'propagationSettling') assert.ok(count > 0, `fault ${name} fired`);
      }

      await sleep(untilGrantVisible(emulator, 2_000));
      await sleep(1_000); // let the write bucket refill a little
      const iotToken = await fetchToken(agent, emulator, iotHubScope);
      token = await fetchToken(agent, emulator, managementScope);
      const settling: Outcome[] = [];
      for (let i = 1; i <= 40; i++) {
        settling.push(await attempt(() => call(agent, policyUrl(emulator, `device-${String(i).padStart(4, '0')}`), { method: 'PUT', token, body: document })));
        settling.push(await attempt(() => call(agent, twinUrl(emulator, `device-${String(i).padStart(4, '0')}`), { method: 'PATCH', token: iotToken, body: { tags: { seen: i } } })));
        if (settling.some((result) => /insufficient_claims/.test(result.headers['www-authenticate'] ?? ''))) {
          token = await fetchToken(agent, emulator, managementScope);
        }
      }
      assert.ok(settling.some((outcome) => outcome.status === 200 || outcome.status === 201), 'some calls succeed once the grant shows');
      assert.ok(emulator.state().faults.propagationSettling > 0, 'some are still refused while it settles');
    });
  });
});

describe('emulator faults: each one alone, deterministic under the seed', () => {
  it('500 alone, in ARM’s and IoT Hub’s shapes', async () => {
    await withEmulator({ faults: { transient: { error500Ratio: 1 } } }, async (emulator, agent) => {
      const arm = await call(agent, permissionsUrl(emulator), { token: await fetchToken(agent, emulator, managementScope) });
      assert.equal(arm.status, 500);
      assert.equal(errorCode(arm), 'InternalServerError');
      assert.ok(arm.headers['x-ms-request-id']);
      const hub = await call(agent, twinUrl(emulator, 'device-0001'), { token: await fetchToken(agent, emulator, iotHubScope) });
      assert.equal(hub.status, 500);
      assert.match((hub.json as { Message: string }).Message, /^ErrorCode:ServerError;/);
    });
  });

  it('503 alone, with Retry-After', async () => {
    await withEmulator({ faults: { transient: { error503Ratio: 1, retryAfterSeconds: 7 } } }, async (emulator, agent) => {
      const result = await call(agent, permissionsUrl(emulator), { token: await fetchToken(agent, emulator, managementScope) });
      assert.equal(result.status, 503);
      assert.equal(result.headers['retry-after'], '7');
    });
  });

  it('dropped connections alone: no response, the server keeps serving', async () => {
    await withEmulator({ faults: { transient: { dropConnectionRatio: 1 } } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      await assert.rejects(call(agent, permissionsUrl(emulator), { token }));
      await assert.rejects(call(agent, policyUrl(emulator, 'device-0001'), { method: 'PUT', token, body: document }));
      const state = await call(agent, `${emulator.url}/_emulator/state`);
      assert.equal((state.json as { faults: { dropped: number } }).faults.dropped, 2);
      assert.equal(emulator.state().devices['device-0001']?.writes, 0);
      assert.deepEqual(
        emulator.requestLog().filter((entry) => entry.status === 0).map((entry) => entry.code),
        ['ConnectionDropped', 'ConnectionDropped'],
      );
    });
  });

  it('claims challenges alone: the challenged token is revoked and the real ARM client recovers through CAE', async () => {
    await withEmulator({ faults: { transient: { unauthorizedChallengeRatio: 0.5 } } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      let challenged: HttpResult | undefined;
      for (let i = 0; i < 40 && !challenged; i++) {
        const result = await call(agent, permissionsUrl(emulator), { token });
        if (result.status === 401) challenged = result;
      }
      assert.ok(challenged, 'a challenge came within 40 calls');
      const header = challenged.headers['www-authenticate'] ?? '';
      const claims = /claims="([^"]+)"/.exec(header)?.[1] ?? '';
      assert.ok(JSON.parse(Buffer.from(claims, 'base64').toString()).access_token.nbf.essential);
      emulator.setProfile('calm');
      const reused = await call(agent, permissionsUrl(emulator), { token });
      assert.equal(reused.status, 401, 'a revoked token stays refused');
      const fresh = await call(agent, permissionsUrl(emulator), { token: await fetchToken(agent, emulator, managementScope) });
      assert.equal(fresh.status, 200);

      emulator.setProfile('calm', { transient: { unauthorizedChallengeRatio: 0.5 } });
      const client = new AuthorizationManagementClient(credentialFor(emulator), emulator.hub.subscriptionId, {
        endpoint: emulator.url,
        credentialScopes: [managementScope],
        tlsOptions: { ca: emulator.caPem },
      });
      const before = emulator.state().faults.claimsChallenges;
      for (let i = 0; i < 8; i++) {
        const listed = [];
        for await (const permission of client.permissions.listForResourceGroup(emulator.hub.resourceGroup)) listed.push(permission);
        assert.deepEqual(listed, []);
      }
      assert.ok(emulator.state().faults.claimsChallenges > before, 'the SDK met challenges and rode through them');
    });
  });

  it('latency alone', async () => {
    await withEmulator({ faults: { latency: { fixedMs: 120 } } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const started = Date.now();
      await call(agent, permissionsUrl(emulator), { token });
      assert.ok(Date.now() - started >= 120);
    });
  });

  it('the same seed and request order give the same faults; another seed does not', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const statuses: number[] = [];
      await withEmulator({ profile: 'hostile', seed, faults: { propagation: { delayMs: 0, flakyWindowMs: 0 }, throttling: { armReads: null }, latency: { fixedMs: 0, jitterMs: 0 } } }, async (emulator, agent) => {
        let token = await fetchToken(agent, emulator, managementScope);
        for (let i = 0; i < 150; i++) {
          const outcome = await attempt(() => call(agent, permissionsUrl(emulator), { token }));
          statuses.push(outcome.status);
          if (outcome.status === 401) token = await fetchToken(agent, emulator, managementScope);
        }
      });
      return statuses;
    };
    const first = await run(42);
    assert.deepEqual(await run(42), first);
    assert.notDeepEqual(await run(43), first);
    assert.ok(first.some((status) => status !== 200));
  });
});
