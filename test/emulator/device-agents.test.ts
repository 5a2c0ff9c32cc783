import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Agent } from 'undici';
import { emulatorProfileNames, resolveFaultSettings, type Emulator } from '../../src/emulator';
import { parseEmulatorArgs } from '../../src/emulator/cli';
import { call, fetchToken, iotHubScope, sleep, twinUrl, withEmulator, type HttpResult } from './helpers';

interface Ack {
  value: unknown;
  ac: number;
  av: number;
  ad: string;
}

interface Twin {
  etag: string;
  version: number;
  connectionState: string;
  properties: {
    desired: Record<string, unknown> & { $version: number };
    reported: Record<string, unknown> & { $version: number; $metadata: { $lastUpdated: string } };
  };
}

const policy = {
  version: 3,
  rules: [
    { id: 'tls-min', setting: 'tls.minVersion', value: '1.2' },
    { id: 'ssh-off', setting: 'services.ssh', value: 'disabled' },
  ],
};

/** Short delays so that a test waits well under a second for the devices' answers. */
const quick = { minDelayMs: 20, maxDelayMs: 80 };

async function readTwin(emulator: Emulator, agent: Agent, token: string, deviceId: string): Promise<Twin> {
  const result = await call(agent, twinUrl(emulator, deviceId), { token });
  assert.equal(result.status, 200, result.text);
  return result.json as Twin;
}

async function writePolicy(
  emulator: Emulator,
  agent: Agent,
  token: string,
  deviceId: string,
  document: unknown = policy,
): Promise<Twin> {
  const result = await call(agent, twinUrl(emulator, deviceId), {
    method: 'PATCH',
    token,
    body: { properties: { desired: { securityPolicy: document } } },
  });
  assert.equal(result.status, 200, result.text);
  return result.json as Twin;
}

/** Polls `check` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function reported(emulator: Emulator, deviceId: string): Ack | null {
  return emulator.state().devices[deviceId]?.reportedPolicy as Ack | null;
}

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `device-${String(i + 1).padStart(4, '0')}`);
}

void describe('emulator: simulated devices acknowledge desired securityPolicy writes', () => {
  void it('on in every profile: 0.5–5 s, no device offline, rejecting, failing or slow', () => {
    for (const profile of emulatorProfileNames) {
      assert.deepEqual(
        resolveFaultSettings(profile).devices,
        {
          acknowledge: true,
          minDelayMs: 500,
          maxDelayMs: 5_000,
          offlineRatio: 0,
          rejectRatio: 0,
          errorRatio: 0,
          slowRatio: 0,
          slowDelayMs: 180_000,
        },
        profile,
      );
    }
  });

  void it('a connected device answers {value, ac 200, av, ad} after a delay in the range; the twin moves on', async () => {
    await withEmulator(
      { devices: 3, faults: { devices: { minDelayMs: 300, maxDelayMs: 400 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        const before = await readTwin(emulator, agent, token, 'device-0002');
        assert.equal(before.connectionState, 'Connected');
        const written = await writePolicy(emulator, agent, token, 'device-0002');
        const writtenAt = Date.now();
        assert.equal(written.properties.reported['securityPolicy'], undefined);
        assert.equal(emulator.state().devices['device-0002']?.acknowledgement, 'pending');

        await sleep(150);
        assert.equal(reported(emulator, 'device-0002'), null, 'no answer before minDelayMs');
        await waitFor('the answer', () => reported(emulator, 'device-0002') !== null);
        const answeredAfterMs = Date.now() - writtenAt;
        assert.ok(answeredAfterMs >= 290, `answered after ${answeredAfterMs} ms`);

        const twin = await readTwin(emulator, agent, token, 'device-0002');
        assert.deepEqual(twin.properties.reported['securityPolicy'], {
          value: policy,
          ac: 200,
          av: written.properties.desired.$version,
          ad: 'applied',
        });
        assert.equal(twin.version, written.version + 1, 'a reported update is a twin update');
        assert.notEqual(twin.etag, written.etag);
        assert.equal(twin.properties.reported.$version, written.properties.reported.$version + 1);
        assert.ok(
          Date.parse(twin.properties.reported.$metadata.$lastUpdated) >= writtenAt - 5,
          'reported $lastUpdated moves',
        );
        assert.equal(twin.properties.reported['firmwareVersion'], '1.4.2', 'other reported keys stay');

        const state = emulator.state();
        assert.equal(state.devices['device-0002']?.acknowledgement, 'applied');
        assert.deepEqual(state.acknowledgements, {
          applied: 1,
          pending: 0,
          offline: 0,
          rejected: 0,
          deviceError: 0,
        });
        // The etag the product read before the device answered no longer holds.
        const stale = await call(agent, twinUrl(emulator, 'device-0002'), {
          method: 'PATCH',
          token,
          headers: { 'if-match': `"${written.etag}"` },
          body: { properties: { desired: { securityPolicy: { version: 4 } } } },
        });
        assert.equal(stale.status, 412);
      },
    );
  });

  void it('answers the latest write; an answer to an older $version reads as pending', async () => {
    await withEmulator(
      { devices: 2, faults: { devices: { minDelayMs: 150, maxDelayMs: 200 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        await writePolicy(emulator, agent, token, 'device-0001', { version: 1 });
        const second = await writePolicy(emulator, agent, token, 'device-0001', { version: 2 });
        await waitFor('the answer', () => reported(emulator, 'device-0001') !== null);
        await sleep(300);
        const twin = await readTwin(emulator, agent, token, 'device-0001');
        assert.deepEqual(twin.properties.reported['securityPolicy'], {
          value: { version: 2 },
          ac: 200,
          av: second.properties.desired.$version,
          ad: 'applied',
        });
        assert.equal(twin.version, second.version + 1, 'one answer, to the latest write');

        const third = await writePolicy(emulator, agent, token, 'device-0001', { version: 3 });
        assert.ok((reported(emulator, 'device-0001')?.av ?? 0) < third.properties.desired.$version);
        assert.equal(emulator.state().devices['device-0001']?.acknowledgement, 'pending');
        await waitFor(
          'the new answer',
          () => reported(emulator, 'device-0001')?.av === third.properties.desired.$version,
        );
        assert.equal(emulator.state().devices['device-0001']?.acknowledgement, 'applied');

        // A desired change that leaves securityPolicy alone is no new write: the device stays silent.
        const other = await call(agent, twinUrl(emulator, 'device-0001'), {
          method: 'PATCH',
          token,
          body: { properties: { desired: { telemetryIntervalSeconds: 30 } } },
        });
        assert.equal(other.status, 200);
        await sleep(400);
        assert.equal(reported(emulator, 'device-0001')?.av, third.properties.desired.$version);
        assert.equal(emulator.state().devices['device-0001']?.acknowledgement, 'applied');
      },
    );
  });

  void it("desired $metadata: each property's $lastUpdatedVersion moves only when its value changes; the query projects it", async () => {
    await withEmulator(
      { devices: 2, faults: { devices: { acknowledge: false } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        const first = await writePolicy(emulator, agent, token, 'device-0001', { version: 1 });
        const written = first.properties.desired.$version;
        const other = await call(agent, twinUrl(emulator, 'device-0001'), {
          method: 'PATCH',
          token,
          body: { properties: { desired: { telemetryIntervalSeconds: 30 } } },
        });
        assert.equal(other.status, 200);
        const twin = await readTwin(emulator, agent, token, 'device-0001');
        const metadata = twin.properties.desired['$metadata'] as Record<string, unknown>;
        assert.equal(twin.properties.desired.$version, written + 1);
        assert.equal(metadata['$lastUpdatedVersion'], written + 1);
        assert.deepEqual(Object.keys(metadata['securityPolicy'] as object).sort(), [
          '$lastUpdated',
          '$lastUpdatedVersion',
        ]);
        assert.equal((metadata['securityPolicy'] as Record<string, unknown>)['$lastUpdatedVersion'], written);
        assert.equal(
          (metadata['telemetryIntervalSeconds'] as Record<string, unknown>)['$lastUpdatedVersion'],
          written + 1,
        );
        // Tampering with the policy moves its metadata too.
        emulator.tamperPolicy('device-0001', { version: 9 }, 'twin');
        const query = await call(agent, `${emulator.url}/devices/query?api-version=2021-04-12`, {
          method: 'POST',
          token,
          body: {
            query:
              'SELECT deviceId, properties.desired.$metadata.securityPolicy.$lastUpdatedVersion AS policyVersion FROM devices',
          },
        });
        assert.equal(query.status, 200, query.text);
        assert.deepEqual(query.json, [
          { deviceId: 'device-0001', policyVersion: written + 2 },
          { deviceId: 'device-0002' },
        ]);
      },
    );
  });

  void it('offlineRatio: the same devices are Disconnected for a seed whatever the request order; they answer after reconnecting', async () => {
    const run = async (seed: number, order: 'forward' | 'backward') => {
      const outcome: Record<string, { connectionState: string; ack: Ack | null }> = {};
      let counts;
      await withEmulator(
        { devices: 40, seed, faults: { devices: { ...quick, offlineRatio: 0.3 } } },
        async (emulator, agent) => {
          const token = await fetchToken(agent, emulator, iotHubScope);
          const devices = order === 'forward' ? ids(40) : ids(40).reverse();
          for (const deviceId of devices) await writePolicy(emulator, agent, token, deviceId);
          const offline = Object.entries(emulator.state().devices)
            .filter(([, device]) => device.connectionState === 'Disconnected')
            .map(([deviceId]) => deviceId);
          await waitFor(
            'the connected devices',
            () => emulator.state().acknowledgements.applied === 40 - offline.length,
          );
          await sleep(200);
          counts = emulator.state().acknowledgements;
          assert.deepEqual(counts, {
            applied: 40 - offline.length,
            pending: 0,
            offline: offline.length,
            rejected: 0,
            deviceError: 0,
          });
          for (const deviceId of offline) {
            const twin = await readTwin(emulator, agent, token, deviceId);
            assert.equal(twin.connectionState, 'Disconnected');
            assert.equal(twin.properties.reported['securityPolicy'], undefined);
          }
          for (const [deviceId, device] of Object.entries(emulator.state().devices))
            outcome[deviceId] = {
              connectionState: device.connectionState,
              ack: device.reportedPolicy as Ack | null,
            };

          const reconnect = await call(agent, `${emulator.url}/_emulator/devices/reconnect`, {
            method: 'POST',
          });
          assert.equal(reconnect.status, 200);
          assert.deepEqual(reconnect.json, { reconnected: offline.length, deviceIds: offline });
          await waitFor('the reconnected devices', () => emulator.state().acknowledgements.applied === 40);
          for (const deviceId of offline) {
            const twin = await readTwin(emulator, agent, token, deviceId);
            assert.equal(twin.connectionState, 'Connected');
            assert.equal(
              (twin.properties.reported['securityPolicy'] as Ack).av,
              twin.properties.desired.$version,
            );
          }
        },
      );
      return { outcome, counts };
    };
    const forward = await run(7, 'forward');
    const backward = await run(7, 'backward');
    const other = await run(8, 'forward');
    const offlineOf = (result: typeof forward) =>
      Object.entries(result.outcome)
        .filter(([, device]) => device.connectionState === 'Disconnected')
        .map(([deviceId]) => deviceId);
    assert.ok(offlineOf(forward).length >= 4 && offlineOf(forward).length <= 20, offlineOf(forward).join());
    assert.deepEqual(offlineOf(backward), offlineOf(forward), 'request order does not matter');
    assert.deepEqual(forward.outcome, backward.outcome);
    assert.notDeepEqual(offlineOf(other), offlineOf(forward), 'another seed, other devices');
  });

  void it('rejectRatio and errorRatio: ac 400 with the firmware’s reason, ac 500; value is what the device still runs', async () => {
    await withEmulator(
      { devices: 30, seed: 3, faults: { devices: { ...quick, rejectRatio: 0.3, errorRatio: 0.3 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        for (const deviceId of ids(30)) await writePolicy(emulator, agent, token, deviceId);
        await waitFor('every answer', () =>
          Object.values(emulator.state().devices).every((d) => d.reportedPolicy !== null),
        );
        const state = emulator.state();
        const acks = Object.values(state.devices).map((device) => device.reportedPolicy as Ack);
        const rejected = acks.filter((ack) => ack.ac === 400);
        const failed = acks.filter((ack) => ack.ac === 500);
        assert.ok(rejected.length > 0 && failed.length > 0 && rejected.length + failed.length < 30);
        for (const ack of rejected) {
          assert.match(ack.ad, /^rule '(tls-min|ssh-off)' unsupported by firmware 1\.4\.2$/);
          assert.equal(ack.value, null, 'nothing applied before');
        }
        for (const ack of failed) assert.match(ack.ad, /exception applying the policy/);
        assert.deepEqual(state.acknowledgements, {
          applied: 30 - rejected.length - failed.length,
          pending: 0,
          offline: 0,
          rejected: rejected.length,
          deviceError: failed.length,
        });

        // Same seed, same refusing devices and reasons.
        emulator.reset();
        for (const deviceId of ids(30).reverse()) await writePolicy(emulator, agent, token, deviceId);
        await waitFor('every answer again', () =>
          Object.values(emulator.state().devices).every((d) => d.reportedPolicy !== null),
        );
        assert.deepEqual(
          Object.values(emulator.state().devices).map((device) => {
            const { ac, ad } = device.reportedPolicy as Ack;
            return { ac, ad };
          }),
          acks.map(({ ac, ad }) => ({ ac, ad })),
        );
      },
    );
  });

  void it('a refusing device that ran an earlier policy reports that one as its value', async () => {
    await withEmulator({ devices: 20, seed: 3, faults: { devices: quick } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, iotHubScope);
      await writePolicy(emulator, agent, token, 'device-0001', { version: 1 });
      await waitFor('the first answer', () => reported(emulator, 'device-0001')?.ac === 200);
      emulator.setProfile('calm', { devices: { ...quick, rejectRatio: 1 } });
      const second = await writePolicy(emulator, agent, token, 'device-0001', policy);
      await waitFor('the refusal', () => reported(emulator, 'device-0001')?.ac === 400);
      const ack = reported(emulator, 'device-0001');
      assert.deepEqual(ack?.value, { version: 1 });
      assert.equal(ack?.av, second.properties.desired.$version);
      assert.equal(emulator.state().devices['device-0001']?.acknowledgement, 'rejected');
    });
  });

  void it('slowRatio: ac 202 (in progress, pending) first, the final answer after slowDelayMs', async () => {
    await withEmulator(
      { devices: 1, faults: { devices: { ...quick, slowRatio: 1, slowDelayMs: 800 } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        const written = await writePolicy(emulator, agent, token, 'device-0001');
        await waitFor('the 202', () => reported(emulator, 'device-0001') !== null);
        const inProgressAt = Date.now();
        assert.deepEqual(reported(emulator, 'device-0001'), {
          value: policy,
          ac: 202,
          av: written.properties.desired.$version,
          ad: 'applying',
        });
        assert.equal(emulator.state().devices['device-0001']?.acknowledgement, 'pending');
        await waitFor('the 200', () => reported(emulator, 'device-0001')?.ac === 200);
        assert.ok(Date.now() - inProgressAt >= 700, `final answer after ${Date.now() - inProgressAt} ms`);
        assert.equal(emulator.state().acknowledgements.applied, 1);
      },
    );
  });

  void it('a device reset drops its reported state (control and HTTP); it answers the next write', async () => {
    await withEmulator({ devices: 3, faults: { devices: quick } }, async (emulator, agent) => {
      const token = await fetchToken(agent, emulator, iotHubScope);
      await writePolicy(emulator, agent, token, 'device-0001');
      await writePolicy(emulator, agent, token, 'device-0002');
      await waitFor('both answers', () => emulator.state().acknowledgements.applied === 2);
      const answered = await readTwin(emulator, agent, token, 'device-0001');

      const reset: HttpResult = await call(agent, `${emulator.url}/_emulator/devices/device-0001/reset`, {
        method: 'POST',
      });
      assert.equal(reset.status, 200, reset.text);
      emulator.resetDevice('device-0002');
      const twin = await readTwin(emulator, agent, token, 'device-0001');
      assert.equal(twin.properties.reported['securityPolicy'], undefined);
      assert.equal(twin.version, answered.version + 1);
      assert.equal(twin.properties.reported['firmwareVersion'], '1.4.2');
      await sleep(300);
      assert.deepEqual(emulator.state().acknowledgements, {
        applied: 0,
        pending: 2,
        offline: 0,
        rejected: 0,
        deviceError: 0,
      });

      await writePolicy(emulator, agent, token, 'device-0001', { ...policy, version: 4 });
      await waitFor('the answer after reset', () => reported(emulator, 'device-0001')?.ac === 200);
      assert.equal(emulator.state().devices['device-0002']?.reportedPolicy, null);

      const unknown = await call(agent, `${emulator.url}/_emulator/devices/no-such-device/reset`, {
        method: 'POST',
      });
      assert.equal(unknown.status, 404);
      assert.throws(() => emulator.resetDevice('no-such-device'), RangeError);
    });
  });

  void it('acknowledge false silences the devices; turning it on again gets the answers owed; reset clears timers', async () => {
    await withEmulator(
      { devices: 2, faults: { devices: { ...quick, acknowledge: false } } },
      async (emulator, agent) => {
        const token = await fetchToken(agent, emulator, iotHubScope);
        await writePolicy(emulator, agent, token, 'device-0001');
        await sleep(300);
        assert.equal(reported(emulator, 'device-0001'), null);
        const profile = await call(agent, `${emulator.url}/_emulator/profile`, {
          method: 'POST',
          body: { profile: 'calm', faults: { devices: quick } },
        });
        assert.equal(profile.status, 200, profile.text);
        await waitFor('the owed answer', () => reported(emulator, 'device-0001')?.ac === 200);

        await writePolicy(emulator, agent, token, 'device-0002');
        emulator.reset();
        await sleep(300);
        const twin = await readTwin(emulator, agent, token, 'device-0002');
        assert.equal(twin.version, 1, 'no answer from before the reset');
        assert.equal(twin.properties.reported['securityPolicy'], undefined);
      },
    );
  });

  void it('refuses minDelayMs above maxDelayMs, naming the fields, at every door', async () => {
    await withEmulator({ devices: 1 }, async (emulator, agent) => {
      const refused = await call(agent, `${emulator.url}/_emulator/profile`, {
        method: 'POST',
        body: { profile: 'calm', faults: { devices: { minDelayMs: 9_000 } } },
      });
      assert.equal(refused.status, 400);
      assert.match(refused.text, /devices\.minDelayMs \(9000\) must not exceed devices\.maxDelayMs \(5000\)/);
      const badRatio = await call(agent, `${emulator.url}/_emulator/profile`, {
        method: 'POST',
        body: { profile: 'calm', faults: { devices: { offlineRatio: 2 } } },
      });
      assert.equal(badRatio.status, 400);
      assert.match(badRatio.text, /offlineRatio/);
    });
    const cli = parseEmulatorArgs(['--faults', '{"devices":{"minDelayMs":9000}}']);
    assert.equal(cli.kind, 'error');
    assert.match(cli.kind === 'error' ? cli.message : '', /--faults devices\.minDelayMs/);
    const ok = parseEmulatorArgs([
      '--seed',
      '5',
      '--faults',
      '{"devices":{"offlineRatio":0.1,"slowDelayMs":60000}}',
    ]);
    assert.deepEqual(ok.kind === 'run' ? ok.options.faults : undefined, {
      devices: { offlineRatio: 0.1, slowDelayMs: 60_000 },
    });
  });
});
