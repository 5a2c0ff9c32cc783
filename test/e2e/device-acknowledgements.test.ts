/**
 * End to end, twin target: devices acknowledge the policy (IoT Plug and Play's writable-property answers, as the
 * emulator's simulated devices give them). 300 devices, 5% offline and 2% refusing (seeded), a short ack
 * deadline: the sync's compliance counts equal the emulator's own reading exactly, refusals are listed with the
 * device's reason, offline devices are pending (offline), DeviceRejections is raised once. After the offline
 * devices reconnect, the next sync finds them applied and writes no device again: neither the applied ones nor
 * the ones that refused the same document.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricsQuery } from '../../src/workflows/messages';
import { useEmulatorSuite } from './suite';
import { emulatorDesired, fleetMismatches, observeRun, report, startSync, uniqueHub } from './support';

const suite = useEmulatorSuite('e2e-ack');

void describe('twin target, devices acknowledging: 300 devices, 5% offline, 2% refusing', () => {
  const DEVICES = 300;

  it('counts the answers exactly, lists the refusals, and the next sync rewrites nothing', async () => {
    const hub = uniqueHub('hub-e2e-ack');
    const w = await suite.world(
      'ack',
      {
        devices: DEVICES,
        profile: 'calm',
        seed: 3,
        hubName: hub,
        faults: { devices: { offlineRatio: 0.05, rejectRatio: 0.02, minDelayMs: 100, maxDelayMs: 1000 } },
      },
      { env: { POLICY_TARGET: 'twin' } },
    );
    try {
      const first = await observeRun(
        await startSync(suite.temporal.client, w.worker.config, { ackDeadlineInMs: 20_000 }),
        250,
      );
      assert.equal(first.error, undefined, String(first.error));
      const summary = first.summary!;
      const state = w.emulator.state();
      assert.equal(summary.succeeded, DEVICES);
      assert.deepEqual(fleetMismatches(state, emulatorDesired(w.emulator), 'twin'), []);

      // The sync's counts are the emulator's own reading of the answers, exactly.
      const acks = state.acknowledgements;
      assert.ok(
        acks.offline > 0 && acks.rejected > 0,
        `the seed gives offline and refusing devices: ${JSON.stringify(acks)}`,
      );
      assert.deepEqual(summary.compliance, { ...acks, stale: 0 });
      assert.equal(acks.applied + acks.offline + acks.rejected, DEVICES);

      // Refusals listed with the device's own reason; offline devices counted as pending (offline), not failed.
      const devices = Object.entries(state.devices);
      const refused = devices.filter(([, d]) => d.acknowledgement === 'rejected');
      const listed = summary.failed.filter((f) => f.code === 'DeviceRejected');
      assert.deepEqual(
        listed.map((f) => [f.deviceId, f.message]).sort(),
        refused.map(([id, d]) => [id, (d.reportedPolicy as { ad: string }).ad]).sort(),
      );
      assert.ok(
        listed.every((f) => /unsupported by firmware/.test(f.message)),
        'the firmware says why',
      );
      assert.equal(summary.failed.length, listed.length, 'nothing else failed');
      const offline = devices.filter(([, d]) => d.connectionState === 'Disconnected').map(([id]) => id);
      assert.equal(summary.compliance!.offline, offline.length);
      assert.ok(offline.every((id) => !summary.failed.some((f) => f.deviceId === id)));

      // DeviceRejections: once, recorded, logged.
      assert.deepEqual(
        summary.alerts.map((a) => a.kind),
        ['DeviceRejections'],
      );
      assert.equal(w.worker.logs.filter((l) => l.includes('ALERT DeviceRejections')).length, 1);

      // The phase and the counts were visible while the sync waited for the answers.
      assert.ok(
        first.samples.some((m) => m.phase === 'acknowledging'),
        'seen acknowledging',
      );
      const closed = await suite.temporal.client.workflow.getHandle(summary.workflowId).query(metricsQuery);
      assert.equal(closed.phase, 'done');
      assert.deepEqual(closed.compliance, summary.compliance, 'the metrics query shows the counts');

      // The offline devices come back and answer; the next sync sees them applied and writes nobody again.
      const writesBefore = new Map(devices.map(([id, d]) => [id, d.twinWrites]));
      assert.deepEqual(w.emulator.reconnectDevices().sort(), [...offline].sort());
      const second = await observeRun(
        await startSync(suite.temporal.client, w.worker.config, { ackDeadlineInMs: 20_000 }),
        500,
      );
      assert.equal(second.error, undefined, String(second.error));
      const after = w.emulator.state();
      assert.equal(second.summary!.unchanged, DEVICES);
      assert.equal(second.summary!.succeeded, 0);
      for (const [id, device] of Object.entries(after.devices))
        assert.equal(device.twinWrites, writesBefore.get(id), `${id} written again`);
      assert.deepEqual(second.summary!.compliance, { ...after.acknowledgements, stale: 0 });
      assert.equal(second.summary!.compliance!.applied, acks.applied + acks.offline);
      assert.equal(second.summary!.compliance!.offline, 0);
      assert.equal(
        second.summary!.compliance!.rejected,
        acks.rejected,
        'a refusal stands: not written again',
      );

      report(
        'e2e ack',
        `${DEVICES} twins: ${JSON.stringify(summary.compliance)} in ${(first.wallMs / 1000).toFixed(1)} s; ` +
          `after reconnecting ${JSON.stringify(second.summary!.compliance)} in ${(second.wallMs / 1000).toFixed(1)} s`,
      );
    } finally {
      await w.close();
    }
  });
});
