import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attempt,
  call,
  errorCode,
  fetchToken,
  iotHubScope,
  managementScope,
  permissionsUrl,
  policyUrl,
  sleep,
  twinUrl,
  withEmulator,
  type HttpResult,
} from './helpers';
import { authorizationClient } from './sdk-clients';

const document = { version: 1, rules: [] };

void describe('emulator faults: calm', () => {
  void it('lets every call through untouched', async () => {
    await withEmulator({ profile: 'calm' }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          call(agent, policyUrl(emulator, `device-${String(i + 1).padStart(4, '0')}`), {
            method: 'PUT',
            token,
            body: document,
          }),
        ),
      );
      assert.ok(results.every((result) => result.status === 201));
      const { faults, requests } = emulator.state();
      assert.deepEqual(Object.values(faults), [0, 0, 0, 0, 0, 0, 0, 0]);
      assert.equal(requests['201'], 120);
    });
  });
});

void describe('emulator faults: throttled', () => {
  void it('applies ARM’s write and read buckets with 429, Retry-After and the remaining-requests headers', async () => {
    await withEmulator({ profile: 'throttled' }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const first = await call(agent, policyUrl(emulator, 'device-0001'), {
        method: 'PUT',
        token,
        body: document,
      });
      assert.equal(first.headers['x-ms-ratelimit-remaining-subscription-writes'], '199');
      let started = Date.now();
      const writes = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          call(agent, policyUrl(emulator, `device-${String(i + 1).padStart(4, '0')}`), {
            method: 'PUT',
            token,
            body: document,
          }),
        ),
      );
      let elapsedSec = (Date.now() - started) / 1000;
      const throttled = writes.filter((result) => result.status === 429);
      const acceptedWrites = writes.length - throttled.length;
      assert.ok(throttled.length > 0, 'some writes are throttled');
      assert.ok(
        acceptedWrites <= 199 + Math.ceil(10 * elapsedSec),
        `${acceptedWrites} writes accepted in ${elapsedSec.toFixed(2)} s`,
      );
      for (const result of throttled) {
        assert.equal(errorCode(result), 'SubscriptionRequestsThrottled');
        assert.ok(Number(result.headers['retry-after']) >= 1);
        assert.equal(result.headers['x-ms-ratelimit-remaining-subscription-writes'], '0');
      }
      started = Date.now();
      const reads = await Promise.all(
        Array.from({ length: 400 }, () => call(agent, permissionsUrl(emulator), { token })),
      );
      elapsedSec = (Date.now() - started) / 1000;
      const throttledReads = reads.filter((result) => result.status === 429).length;
      assert.ok(throttledReads > 0, 'some reads are throttled');
      assert.ok(reads.length - throttledReads <= 250 + Math.ceil(25 * elapsedSec));
      assert.equal(emulator.state().faults.throttled, throttled.length + throttledReads);

      await sleep(Number(throttled[0]?.headers['retry-after'] ?? '1') * 1000);
      const later = await call(agent, policyUrl(emulator, 'device-0002'), {
        method: 'PUT',
        token,
        body: document,
      });
      assert.equal(later.status, 200);
    });
  });

  void it('throttles twin updates at 50 per second', async () => {
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
      assert.ok(
        accepted <= 50 + Math.ceil(50 * elapsedSec),
        `${accepted} accepted in ${elapsedSec.toFixed(2)} s`,
      );
      assert.ok(throttled.length > 0);
      assert.equal(errorCode(throttled[0]!), 'ThrottlingException');
      const written = Object.values(emulator.state().devices).filter(
        (device) => device.twinPolicy !== null,
      ).length;
      assert.equal(written, accepted, 'the state holds exactly the updates that were accepted');
    });
  });
});

void describe('emulator faults: each one alone, deterministic under the seed', () => {
  void it('500 alone, in ARM’s and IoT Hub’s shapes', async () => {
    await withEmulator({ faults: { transient: { error500Ratio: 1 } } }, async (emulator, agent) => {
      const arm = await call(agent, permissionsUrl(emulator), {
        token: await fetchToken(agent, emulator, managementScope),
      });
      assert.equal(arm.status, 500);
      assert.equal(errorCode(arm), 'InternalServerError');
      assert.ok(arm.headers['x-ms-request-id']);
      const hub = await call(agent, twinUrl(emulator, 'device-0001'), {
        token: await fetchToken(agent, emulator, iotHubScope),
      });
      assert.equal(hub.status, 500);
      assert.match((hub.json as { Message: string }).Message, /^ErrorCode:ServerError;/);
    });
  });

  void it('503 alone, with Retry-After', async () => {
    await withEmulator(
      { faults: { transient: { error503Ratio: 1, retryAfterSeconds: 7 } } },
      async (emulator, agent) => {
        const result = await call(agent, permissionsUrl(emulator), {
          token: await fetchToken(agent, emulator, managementScope),
        });
        assert.equal(result.status, 503);
        assert.equal(result.headers['retry-after'], '7');
      },
    );
  });

  void it('dropped connections alone: no response, the server keeps serving', async () => {
    await withEmulator({ faults: { transient: { dropConnectionRatio: 1 } } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      await assert.rejects(call(agent, permissionsUrl(emulator), { token }));
      await assert.rejects(
        call(agent, policyUrl(emulator, 'device-0001'), { method: 'PUT', token, body: document }),
      );
      const state = await call(agent, `${emulator.url}/_emulator/state`);
      assert.equal((state.json as { faults: { dropped: number } }).faults.dropped, 2);
      assert.equal(emulator.state().devices['device-0001']?.writes, 0);
      assert.deepEqual(
        emulator
          .requestLog()
          .filter((entry) => entry.status === 0)
          .map((entry) => entry.code),
        ['ConnectionDropped', 'ConnectionDropped'],
      );
    });
  });

  void it('claims challenges alone: the challenged token is revoked and the real ARM client recovers through CAE', async () => {
    await withEmulator(
      { faults: { transient: { unauthorizedChallengeRatio: 0.5 } } },
      async (emulator, agent) => {
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
        const fresh = await call(agent, permissionsUrl(emulator), {
          token: await fetchToken(agent, emulator, managementScope),
        });
        assert.equal(fresh.status, 200);

        emulator.setProfile('calm', { transient: { unauthorizedChallengeRatio: 0.5 } });
        const client = authorizationClient(emulator);
        const before = emulator.state().faults.claimsChallenges;
        for (let i = 0; i < 8; i++) {
          const listed = [];
          for await (const permission of client.permissions.listForResourceGroup(emulator.hub.resourceGroup))
            listed.push(permission);
          assert.deepEqual(listed, []);
        }
        assert.ok(
          emulator.state().faults.claimsChallenges > before,
          'the SDK met challenges and rode through them',
        );
      },
    );
  });

  void it('latency alone', async () => {
    await withEmulator({ faults: { latency: { fixedMs: 120 } } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const started = Date.now();
      await call(agent, permissionsUrl(emulator), { token });
      assert.ok(Date.now() - started >= 120);
    });
  });

  void it('the same seed and request order give the same faults; another seed does not', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const statuses: number[] = [];
      await withEmulator(
        {
          profile: 'hostile',
          seed,
          faults: {
            propagation: { delayMs: 0, flakyWindowMs: 0 },
            throttling: { armReads: null },
            latency: { fixedMs: 0, jitterMs: 0 },
          },
        },
        async (emulator, agent) => {
          let token = await fetchToken(agent, emulator, managementScope);
          for (let i = 0; i < 80; i++) {
            const outcome = await attempt(() => call(agent, permissionsUrl(emulator), { token }));
            statuses.push(outcome.status);
            if (outcome.status === 401) token = await fetchToken(agent, emulator, managementScope);
          }
        },
      );
      return statuses;
    };
    const first = await run(42);
    assert.deepEqual(await run(42), first);
    assert.notDeepEqual(await run(43), first);
    assert.ok(first.some((status) => status !== 200));
  });
});
