/**
 * applySecurityPolicies against the emulator over HTTPS: the devices a batch's gate held, written in one
 * activity. While the grant is missing the hub's authorization gate lets one probe through per interval and
 * holds the rest; when the grant appears it releases the group, and each device is written once. Failures come
 * back per device: a final one as `failed`, one a retry may heal as `handOn` (the device's own activity takes
 * it), never as a failure of the whole group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GroupedDevice, PolicySyncActivities } from '../../src/domain/activity-contract';
import { FailureType } from '../../src/domain/failure-codes';
import type { Emulator } from '../../src/emulator';
import type { DeviceAssignment } from '../../src/workflows/types';
import { runActivity, startActivitiesAgainstEmulator } from './activity-support';

const FRESH = { attempts: 0, authErrors: 0, throttled: 0 };

function grouped(devices: DeviceAssignment[]): GroupedDevice[] {
  return devices.map(({ deviceId, policy }) => ({ deviceId, policy, prior: FRESH }));
}

void describe('applySecurityPolicies: the devices held at the authorization gate, together', () => {
  let activities: PolicySyncActivities;
  let emulator: Emulator;
  let close: () => Promise<void>;
  let snapshotId: string;
  let devices: DeviceAssignment[];

  before(async () => {
    // The grant stays invisible until the test makes it appear.
    const world = await startActivitiesAgainstEmulator(
      {
        devices: 30,
        profile: 'seed',
        faults: { propagation: { delayMs: 3_600_000, flakyWindowMs: 0, flakyRatio: 0 } },
      },
      { level: 'ERROR', write: () => undefined },
    );
    ({ activities, emulator } = world);
    close = world.close;
    snapshotId = (await runActivity(() => activities.loadInventory({}))).snapshot.id;
    devices = await runActivity(() => activities.readInventoryPage({ snapshotId, offset: 0, limit: 30 }));
  });
  after(async () => {
    await close();
  });

  /** The group of `some` (fresh devices, 30 tries each) in an activity with this start-to-close timeout. */
  function writeTogether(some: DeviceAssignment[], startToCloseTimeoutMs: number) {
    const input = { target: 'arm' as const, snapshotId, maximumAttempts: 30, devices: grouped(some) };
    return runActivity(() => activities.applySecurityPolicies(input), { startToCloseTimeoutMs });
  }

  void it('waits at the gate while the grant is missing, then writes each device once', async () => {
    const group = devices.slice(0, 20);
    const started = Date.now();
    const running = writeTogether(group, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    emulator.setProfile('seed', { propagation: { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 } });
    const result = await running;
    const elapsedInMs = Date.now() - started;

    assert.deepEqual(
      result.devices.map((d) => d.deviceId),
      group.map((d) => d.deviceId),
      'one result per device, in input order',
    );
    assert.ok(
      result.devices.every((d) => d.written && !d.handOn && !d.failed),
      JSON.stringify(result.devices.filter((d) => !d.written)),
    );
    const refusals = emulator
      .requestLog()
      .filter((r) => r.status === 403 && r.path.includes('/securityPolicies/'));
    // The gate let probes through (about one per 125 ms while refused), not the group.
    assert.ok(refusals.length >= 1, 'the gate probed while the grant was missing');
    assert.ok(
      refusals.length <= Math.ceil(elapsedInMs / 125) + 2,
      `${refusals.length} refusals in ${elapsedInMs} ms: probes, not the whole group`,
    );
    const state = emulator.state();
    for (const { deviceId, written } of result.devices) {
      assert.equal(state.devices[deviceId]?.armWrites, 1, `${deviceId} written once`);
      // Each 403 the emulator sent this device is one of its counted tries.
      const seen = refusals.filter((r) => r.path.split('/securityPolicies/')[1] === deviceId).length;
      assert.equal(written?.authErrors, seen, `${deviceId}: its 403s counted`);
      assert.equal(written?.attempts, seen + 1, `${deviceId}: its tries numbered from 1`);
    }
  });

  void it('returns a final failure as failed and a healable one as handOn, the rest written', async () => {
    // A 503 with Retry-After on every call: a retry may heal it.
    emulator.setProfile('seed', {
      propagation: { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 },
      transient: { error503Ratio: 1, retryAfterSeconds: 2 },
    });
    try {
      const [throttled] = devices.slice(20, 21);
      const result = await runActivity(() =>
        activities.applySecurityPolicies({
          target: 'arm',
          snapshotId,
          maximumAttempts: 30,
          devices: [
            { deviceId: throttled!.deviceId, policy: throttled!.policy, prior: { ...FRESH, authErrors: 2 } },
            { deviceId: devices[21]!.deviceId, policy: 'no-such-policy', prior: FRESH },
          ],
        }),
      );
      const [handedOn, failed] = result.devices;
      assert.equal(handedOn?.handOn?.prior.attempts, 1, JSON.stringify(handedOn));
      assert.equal(handedOn?.handOn?.prior.throttled, 1);
      assert.equal(handedOn?.handOn?.prior.authErrors, 2, 'counters carried from before the group');
      assert.ok((handedOn?.handOn?.delayInMs ?? 0) >= 2_000, 'waits what Retry-After asked');
      assert.equal(failed?.failed?.type, FailureType.PolicyNotFound, JSON.stringify(failed));
      assert.equal(failed?.failed?.counters.attempts, 1);
    } finally {
      emulator.setProfile('seed', { propagation: { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 } });
    }
  });

  void it('stops a device still writing near the group timeout and hands it on, unsure', async () => {
    // Every answer takes 5 s; the group's start-to-close is 5 s: it stops its writes 3 s before.
    emulator.setProfile('seed', {
      propagation: { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 },
      latency: { fixedMs: 5_000, jitterMs: 0 },
    });
    try {
      const group = devices.slice(24, 27);
      const started = Date.now();
      const result = await writeTogether(group, 5_000);
      const elapsedInMs = Date.now() - started;
      assert.ok(elapsedInMs < 4_000, `returned after ${elapsedInMs} ms, before its timeout`);
      for (const device of result.devices) {
        assert.deepEqual(
          device.handOn,
          { prior: { attempts: 1, authErrors: 0, throttled: 0, unsure: 1 }, delayInMs: 0 },
          `${device.deviceId}: the stopped write counts as a try Azure may have acted on`,
        );
      }
    } finally {
      emulator.setProfile('seed', { propagation: { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 } });
    }
  });

  void it('refuses a group of another hub as a whole (Misconfigured), writing nothing', async () => {
    const before = emulator.requestLog().length;
    await assert.rejects(
      runActivity(() =>
        activities.applySecurityPolicies({
          hub: 'another-hub',
          target: 'arm',
          snapshotId,
          devices: grouped(devices.slice(22, 24)),
        }),
      ),
      (error: Error & { type?: string }) => error.type === FailureType.Misconfigured,
    );
    assert.equal(emulator.requestLog().length, before);
  });
});
