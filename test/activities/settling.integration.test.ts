/**
 * Backoff after a 403 follows the evidence: while nothing succeeds (the grant is not there), the exponential
 * backoff up to 8 s; once writes to the hub succeed (the grant is settling across Azure's front-ends), the
 * write is tried again within its attempt a few times, and an attempt still refused waits at most 2 s, because
 * the next try is likely to pass. (With the authorization gate off: its own path is authorization-gate's test.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SETTLING_MAXIMUM_DELAY_MS } from '../../src/activities/retry-delay';
import type { ApplyPolicyResult, PolicySyncActivities } from '../../src/domain/activity-contract';
import type { DeviceAssignment } from '../../src/workflows/types';
import { FailureType } from '../../src/domain/failure-codes';
import type { Emulator } from '../../src/emulator';
import { applyWithRetries, runActivity, startActivitiesAgainstEmulator } from './activity-support';

void describe('the delay after a 403 while the role assignment settles', () => {
  let activities: PolicySyncActivities;
  let close: () => Promise<void>;
  let snapshotId: string;
  let devices: DeviceAssignment[];
  let emulator: Emulator;

  before(async () => {
    // The grant stays invisible until the test makes it appear (no race with a loaded machine's clock).
    const world = await startActivitiesAgainstEmulator(
      {
        devices: 40,
        profile: 'seed',
        faults: { propagation: { delayMs: 3_600_000, flakyWindowMs: 0, flakyRatio: 0 } },
      },
      { level: 'ERROR', write: () => undefined },
      { authorizationGate: false },
    );
    ({ activities, emulator } = world);
    close = world.close;
    const loaded = await runActivity(() => activities.loadInventory({}));
    snapshotId = loaded.snapshot.id;
    devices = await runActivity(() => activities.readInventoryPage({ snapshotId, offset: 0, limit: 40 }));
  });
  after(async () => {
    await close();
  });

  /** One attempt (number 8: the exponential ceiling is 8 s there) of each device; the 403s' delays. */
  async function refusedDelays(some: DeviceAssignment[]): Promise<number[]> {
    return (await attempts(some)).delays;
  }

  /** One attempt of each device: the delays of those refused, and the 403s of those written. */
  async function attempts(
    some: DeviceAssignment[],
  ): Promise<{ delays: number[]; written: { deviceId: string; authErrors: number }[] }> {
    const outcomes = await Promise.all(
      some.map((device) =>
        new MockActivityEnvironment({
          attempt: 8,
          scheduledTimestampMs: Date.now(),
          scheduleToCloseTimeoutMs: 600_000,
        })
          .run(() => activities.applySecurityPolicy({ ...device, target: 'arm', snapshotId }))
          .then(
            (result) => ({ deviceId: device.deviceId, authErrors: (result as ApplyPolicyResult).authErrors }),
            (error: unknown) => error,
          ),
      ),
    );
    return {
      delays: outcomes
        .filter((e): e is ApplicationFailure => e instanceof ApplicationFailure)
        .filter((e) => e.type === FailureType.AuthorizationFailed)
        .map((e) => e.nextRetryDelay as number),
      written: outcomes.filter(
        (o): o is { deviceId: string; authErrors: number } =>
          typeof o === 'object' && o !== null && !(o instanceof Error) && 'authErrors' in o,
      ),
    };
  }

  void it('backs off up to 8 s before any write succeeded, and at most 2 s once writes succeed', async () => {
    const before = await refusedDelays(devices.slice(0, 10));
    assert.equal(before.length, 10, 'no grant yet: every write refused');
    assert.ok(
      before.some((delay) => delay > SETTLING_MAXIMUM_DELAY_MS),
      `the full backoff (up to 8 s) while nothing succeeds: ${before.join(', ')}`,
    );

    // The grant appears; for the next ten minutes 60% of calls are still refused. One device gets through:
    // evidence that the grant is settling.
    emulator.setProfile('seed', { propagation: { delayMs: 0, flakyWindowMs: 600_000, flakyRatio: 0.6 } });
    const first = await applyWithRetries(
      activities,
      { ...devices[10]!, target: 'arm', snapshotId },
      { maxAttempts: 50, delayCapInMs: 50 },
    );
    assert.ok(first.result, 'a write succeeded while the grant settles');

    const after = await attempts(devices.slice(11, 40));
    for (const delay of after.delays)
      assert.ok(
        delay <= SETTLING_MAXIMUM_DELAY_MS,
        `a 403 while settling waits at most 2 s, not ${delay} ms`,
      );
    // 60% are refused while settling: most devices got a 403 and were written within the same attempt, each
    // 403 counted as a try.
    const triedAgain = after.written.filter((w) => w.authErrors > 0);
    assert.ok(triedAgain.length >= 5, `${triedAgain.length} devices written after a 403 within one attempt`);
    const refusals = emulator.requestLog().filter((r) => r.status === 403);
    for (const { deviceId, authErrors } of after.written) {
      const seen = refusals.filter((r) => r.path.split('/securityPolicies/')[1] === deviceId);
      assert.equal(seen.length, authErrors, `${deviceId}: the 403s the emulator sent, counted`);
    }
  });
});
