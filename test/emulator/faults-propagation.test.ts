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
  untilGrantVisible,
  withEmulator,
  type HttpResult,
  type Outcome,
} from './helpers';

const document = { version: 1, rules: [] };

void describe('emulator faults: seed', () => {
  void it('hides a new grant for 3 s, then refuses about 60% of its calls while it settles, with a little latency', async () => {
    await withEmulator({ profile: 'seed', devices: 300 }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, managementScope);
      const early = await call(agent, permissionsUrl(emulator), { token });
      assert.deepEqual(early.json, { value: [] }, 'the grant is not visible yet');
      const refused = await call(agent, policyUrl(emulator, 'device-0001'), {
        method: 'PUT',
        token,
        body: document,
      });
      assert.equal(refused.status, 403);
      assert.equal(errorCode(refused), 'AuthorizationFailed');
      assert.equal(emulator.state().faults.propagationPending, 1);

      await sleep(untilGrantVisible(emulator, 3_000));
      const visible = await call(agent, permissionsUrl(emulator), { token });
      assert.equal((visible.json as { value: unknown[] }).value.length, 1);
      const started = Date.now();
      const results: HttpResult[] = [];
      for (let batch = 0; batch < 10; batch++) {
        results.push(
          ...(await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              call(agent, policyUrl(emulator, `device-${String(batch * 20 + i + 1).padStart(4, '0')}`), {
                method: 'PUT',
                token,
                body: document,
              }),
            ),
          )),
        );
      }
      const elapsedPerBatch = (Date.now() - started) / 10;
      const forbidden = results.filter((result) => result.status === 403).length;
      assert.ok(forbidden > 90 && forbidden < 150, `${forbidden} of 200 refused while settling`);
      assert.equal(results.filter((result) => result.status === 201).length, 200 - forbidden);
      assert.equal(emulator.state().faults.propagationSettling, forbidden);
      assert.ok(
        elapsedPerBatch >= 2,
        `seed latency adds at least 2 ms to each call (a batch took ${elapsedPerBatch.toFixed(1)} ms)`,
      );
    });
  });

  void it('lets every call through once the settling window has passed (window shortened for the test)', async () => {
    await withEmulator(
      { profile: 'seed', faults: { propagation: { delayMs: 200, flakyWindowMs: 400 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, managementScope);
        await sleep(untilGrantVisible(emulator, 600));
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            call(agent, policyUrl(emulator, `device-${String(i + 1).padStart(4, '0')}`), {
              method: 'PUT',
              token,
              body: document,
            }),
          ),
        );
        assert.ok(results.every((result) => result.status === 201));
      },
    );
  });
});

void describe('emulator faults: hostile', () => {
  void it('shows propagation, throttling, 500, 503, dropped connections, claims challenges and latency at once', async () => {
    await withEmulator({ profile: 'hostile' }, async (emulator, agent) => {
      let token = await fetchToken(agent, emulator, managementScope);
      const outcomes: Outcome[] = [];
      for (let batch = 0; batch < 20; batch++) {
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => {
            const device = `device-${String(((batch * 30 + i) % 300) + 1).padStart(4, '0')}`;
            return attempt(() =>
              call(agent, policyUrl(emulator, device), { method: 'PUT', token, body: document }),
            );
          }),
        );
        outcomes.push(...results);
        if (results.some((result) => /insufficient_claims/.test(result.headers['www-authenticate'] ?? ''))) {
          token = await fetchToken(agent, emulator, managementScope);
        }
      }
      const statuses = new Set(outcomes.map((outcome) => outcome.status));
      for (const status of [0, 401, 403, 429, 500, 503])
        assert.ok(statuses.has(status), `saw status ${status}: ${[...statuses].join(',')}`);
      const challenge = outcomes.find((outcome) => outcome.status === 401);
      assert.match(
        challenge?.headers['www-authenticate'] ?? '',
        /error="insufficient_claims", claims="[A-Za-z0-9+/=]+"/,
      );
      assert.ok(
        outcomes
          .filter((outcome) => outcome.status === 503)
          .every((outcome) => Number(outcome.headers['retry-after']) >= 1),
      );
      const timed = Date.now();
      await attempt(() => call(agent, permissionsUrl(emulator), { token }));
      assert.ok(Date.now() - timed >= 5, 'a call waits at least the fixed 5 ms');
      const { faults } = emulator.state();
      // The Entra ID outage is not part of the hostile profile (it is an override of its own).
      const { propagationPending, propagationSettling, entraOutage: _off, ...others } = faults;
      assert.ok(propagationPending + propagationSettling > 0, 'propagation refused some calls');
      for (const [name, count] of Object.entries(others)) assert.ok(count > 0, `fault ${name} fired`);

      await sleep(untilGrantVisible(emulator, 2_000));
      const iotToken = await fetchToken(agent, emulator, iotHubScope);
      token = await fetchToken(agent, emulator, managementScope);
      const settling: Outcome[] = [];
      for (let i = 1; i <= 40; i++) {
        settling.push(
          await attempt(() =>
            call(agent, policyUrl(emulator, `device-${String(i).padStart(4, '0')}`), {
              method: 'PUT',
              token,
              body: document,
            }),
          ),
        );
        settling.push(
          await attempt(() =>
            call(agent, twinUrl(emulator, `device-${String(i).padStart(4, '0')}`), {
              method: 'PATCH',
              token: iotToken,
              body: { tags: { seen: i } },
            }),
          ),
        );
        if (/insufficient_claims/.test(settling.at(-2)?.headers['www-authenticate'] ?? '')) {
          token = await fetchToken(agent, emulator, managementScope);
        }
      }
      assert.ok(
        settling.some((outcome) => outcome.status === 200 || outcome.status === 201),
        'some calls succeed once the grant shows',
      );
      assert.ok(emulator.state().faults.propagationSettling > 0, 'some are still refused while it settles');
    });
  });
});
