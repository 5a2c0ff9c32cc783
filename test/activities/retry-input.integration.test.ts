import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { PolicySyncActivities } from '../../src/domain/activity-contract';
import { FailureType } from '../../src/domain/failure-codes';
import { runActivity, startActivitiesAgainstEmulator } from './activity-support';

/** The workflow's retry options reach the activity's nextRetryDelay (which overrides the policy's intervals). */
void describe('applySecurityPolicy backoff from its input', () => {
  let activities: PolicySyncActivities;
  let close: () => Promise<void>;
  const logLines: string[] = [];

  before(async () => {
    // No grant at all: every write is a 403. The retry policy's path alone: without the authorization gate,
    // which would keep a refused write waiting within its attempt (authorization-gate tests).
    const world = await startActivitiesAgainstEmulator(
      { devices: 2, profile: 'calm', grantOnStart: false },
      { level: 'INFO', write: (line) => logLines.push(line) },
      { authorizationGate: false },
    );
    ({ activities } = world);
    close = world.close;
  });
  after(async () => {
    await close();
  });

  async function refusal(
    info: ConstructorParameters<typeof MockActivityEnvironment>[0],
    backoff?: { initialIntervalInMs: number; backoffCoefficient: number; maximumIntervalInMs: number },
  ): Promise<{ failure: ApplicationFailure; deviceId: string }> {
    const { snapshot } = await runActivity(() => activities.loadInventory({}));
    const [device] = await runActivity(() =>
      activities.readInventoryPage({ snapshotId: snapshot.id, offset: 0, limit: 1 }),
    );
    assert.ok(device);
    const env = new MockActivityEnvironment({
      scheduledTimestampMs: Date.now(),
      scheduleToCloseTimeoutMs: 600_000,
      ...info,
    });
    const failure = await env
      .run(() =>
        activities.applySecurityPolicy({ ...device, target: 'arm', snapshotId: snapshot.id, backoff }),
      )
      .then(
        () => assert.fail('the write should be refused'),
        (error: unknown) => error,
      );
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, FailureType.AuthorizationFailed);
    return { failure, deviceId: device.deviceId };
  }

  async function refusedDelay(backoff?: {
    initialIntervalInMs: number;
    backoffCoefficient: number;
    maximumIntervalInMs: number;
  }): Promise<number> {
    // Attempt 8: the default backoff's ceiling is 8 s there.
    const { failure } = await refusal({ attempt: 8 }, backoff);
    assert.equal(typeof failure.nextRetryDelay, 'number');
    return failure.nextRetryDelay as number;
  }

  void it("the retry policy's last attempt, or one past the time budget, is a regular failure and a WARN; earlier ones are benign INFO lines", async () => {
    const retryPolicy = { maximumAttempts: 3 };
    const logged = (attempt: number) =>
      logLines
        .map((line) => JSON.parse(line) as { level: string; attempt?: number; type?: string })
        .filter((entry) => entry.attempt === attempt && entry.type === FailureType.AuthorizationFailed)
        .map((entry) => entry.level);

    const earlier = await refusal({ attempt: 2, retryPolicy });
    assert.equal(earlier.failure.category, ApplicationFailureCategory.BENIGN);
    assert.deepEqual(logged(2), ['INFO']);

    const last = await refusal({ attempt: 3, retryPolicy });
    assert.equal(last.failure.category, undefined, 'the final failure is not benign');
    assert.deepEqual(logged(3), ['WARN']);

    // Scheduled 10 minutes ago with a 10-minute budget: Temporal will not start another attempt.
    const late = await refusal({
      attempt: 4,
      scheduledTimestampMs: Date.now() - 600_000,
      scheduleToCloseTimeoutMs: 600_000,
    });
    assert.equal(late.failure.category, undefined, 'out of time: final');
    assert.deepEqual(logged(4), ['WARN']);
  });

  void it('caps the delay at the input maximumIntervalInMs', async () => {
    const delays = await Promise.all(
      Array.from({ length: 5 }, () =>
        refusedDelay({ initialIntervalInMs: 50, backoffCoefficient: 2, maximumIntervalInMs: 400 }),
      ),
    );
    for (const delay of delays) assert.ok(delay <= 400, `delay ${delay} ms within the 400 ms cap`);
  });

  void it('uses the device retry defaults (8 s cap) without one', async () => {
    const delays = await Promise.all(Array.from({ length: 8 }, () => refusedDelay()));
    assert.ok(
      delays.some((delay) => delay > 400),
      `full jitter up to 8 s reaches past 400 ms: ${delays.join(', ')}`,
    );
    for (const delay of delays) assert.ok(delay <= 8_000, `delay ${delay} ms within the 8 s cap`);
  });
});
