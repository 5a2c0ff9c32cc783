/**
 * A sync of one hub must never touch another: a worker configured for hub A that receives the activities of a
 * sync of hub B (a shared task queue, `run --hub B` against A's worker) refuses them as Misconfigured, before
 * any request to Azure, and says what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { PolicySyncActivities } from '../../src/domain/activity-contract';
import type { Emulator } from '../../src/emulator';
import { FailureType } from '../../src/domain/failure-codes';
import { runActivity, startActivitiesAgainstEmulator } from './activity-support';

void describe("activities of another hub's sync", () => {
  let activities: PolicySyncActivities;
  let emulator: Emulator;
  let close: () => Promise<void>;

  before(async () => {
    ({ activities, emulator, close } = await startActivitiesAgainstEmulator(
      { devices: 3, profile: 'calm' },
      { level: 'ERROR', write: () => undefined },
    ));
  });
  after(async () => {
    await close();
  });

  async function refusal(fn: () => Promise<unknown>): Promise<ApplicationFailure> {
    try {
      await runActivity(fn);
    } catch (error) {
      assert.ok(error instanceof ApplicationFailure, String(error));
      return error;
    }
    assert.fail('the activity ran for another hub');
  }

  void it('are refused as Misconfigured, not retried, with nothing sent to Azure', async () => {
    emulator.reset();
    const hub = emulator.env.IOT_HUB_NAME!;
    const refusals = [
      await refusal(() => activities.checkRolePropagation({ target: 'arm', hub: 'other-hub' })),
      await refusal(() => activities.loadInventory({ hub: 'other-hub' })),
      await refusal(() =>
        activities.applySecurityPolicy({
          hub: 'other-hub',
          deviceId: 'device-0001',
          policy: 'baseline',
          target: 'arm',
          snapshotId: 'inv-whatever',
        }),
      ),
    ];
    for (const failure of refusals) {
      assert.equal(failure.type, FailureType.Misconfigured);
      assert.equal(failure.nonRetryable, true);
      assert.match(
        failure.message,
        new RegExp(
          `a sync of hub 'other-hub' reached a worker configured for hub '${hub}' \\(IOT_HUB_NAME\\).*` +
            `run a worker for 'other-hub' on a task queue of its own \\(TEMPORAL_TASK_QUEUE\\)`,
        ),
      );
    }
    assert.deepEqual(emulator.requestLog(), [], 'no request reached Azure');
  });

  void it("go ahead for the worker's own hub, whatever the case of its name", async () => {
    const hub = emulator.env.IOT_HUB_NAME!;
    const report = await runActivity(() =>
      activities.checkRolePropagation({ target: 'arm', hub: hub.toUpperCase() }),
    );
    assert.equal(report.granted, true);
    const loaded = await runActivity(() => activities.loadInventory({ hub }));
    assert.equal(loaded.snapshot.deviceCount, 3);
  });
});
