import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailureCategory } from '@temporalio/common';
import type { PolicySyncActivities } from '../../src/domain/activity-contract';
import type { Emulator } from '../../src/emulator';
import type { AttemptCounters } from '../../src/domain/activity-contract';
import { FailureType } from '../../src/domain/failure-codes';
import { applyWithRetries, runActivity, startActivitiesAgainstEmulator } from './activity-support';

void describe('applySecurityPolicy in the seed profile (grant still propagating)', () => {
  let emulator: Emulator;
  let activities: PolicySyncActivities;
  let close: () => Promise<void>;
  const logLines: string[] = [];

  before(async () => {
    // The seed profile as it is: the grant appears after 3 s, then 60% of calls still get 403 for 15 s.
    const world = await startActivitiesAgainstEmulator(
      { devices: 12, profile: 'seed' },
      { level: 'DEBUG', write: (l) => logLines.push(l) },
    );
    ({ emulator, activities } = world);
    close = world.close;
  });
  after(async () => {
    await close();
  });

  void it('devices whose first writes get 403 end written, and every attempt after a 403 carries a new token', async () => {
    const loaded = await runActivity(() => activities.loadInventory({}));
    assert.equal(loaded.snapshot.deviceCount, 12);
    const pages = await runActivity(() =>
      activities.readInventoryPage({ snapshotId: loaded.snapshot.id, offset: 0, limit: 12 }),
    );

    const runs = await Promise.all(
      pages.map((device) =>
        // Up to 100 attempts 300 ms apart: longer than the seed's 3 s + 15 s propagation window.
        applyWithRetries(
          activities,
          { ...device, target: 'arm', snapshotId: loaded.snapshot.id },
          { maxAttempts: 100 },
        ),
      ),
    );

    const state = emulator.state();
    const log = emulator.requestLog().filter((r) => r.path.includes('/securityPolicies/'));
    let refusals = 0;
    for (const [i, device] of pages.entries()) {
      const run = runs[i]!;
      assert.ok(run.result, `device ${device.deviceId} failed: ${run.final?.message}`);
      assert.equal(run.result.status, 'succeeded');
      assert.ok(state.devices[device.deviceId]?.policy, `${device.deviceId} holds a policy`);

      // Every failed attempt was a retryable AuthorizationFailed carrying the counters.
      for (const failure of run.failures) {
        assert.equal(failure.type, FailureType.AuthorizationFailed);
        assert.equal(failure.nonRetryable, false);
        assert.ok(typeof failure.nextRetryDelay === 'number' && failure.nextRetryDelay > 0);
        // An attempt that is retried is expected: benign, so Temporal's worker does not log it as a WARN.
        assert.equal(failure.category, ApplicationFailureCategory.BENIGN);
      }
      // 403s tried again within an attempt (the grant settling) count like those that ended an attempt.
      const lastDetails = run.failures.at(-1)?.details?.[0] as AttemptCounters | undefined;
      if (lastDetails) assert.ok(lastDetails.authErrors >= run.failures.length);
      assert.ok(run.result.authErrors >= run.failures.length, 'authErrors counted across attempts');
      // Attempts number the tries: each 403 (within an attempt or ending one) and the write that passed.
      assert.equal(run.result.attempts, run.result.authErrors + 1);

      // By path: the emulator notes deviceId only once a request is authorized.
      const requests = log.filter((r) => r.path.split('/securityPolicies/')[1] === device.deviceId);
      assert.ok(
        requests[0]?.status === 403,
        `${device.deviceId}: the first write was refused (pending grant)`,
      );
      requests.forEach((request, at) => {
        if (request.status !== 403) return;
        refusals += 1;
        const next = requests[at + 1];
        assert.ok(next, `${device.deviceId}: an attempt follows every 403`);
        assert.ok(request.token && next.token, 'tokens are logged');
        assert.notEqual(
          next.token,
          request.token,
          `${device.deviceId}: the attempt after a 403 carried the refused token`,
        );
      });
      assert.equal(requests.filter((r) => r.status === 403).length, run.result.authErrors);
    }
    assert.ok(refusals >= pages.length);
    // Concurrent refusals of one token caused far fewer token requests than refusals.
    assert.ok(state.tokensIssued < refusals, `tokens issued ${state.tokensIssued} < refusals ${refusals}`);
  });
});
