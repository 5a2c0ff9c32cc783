/**
 * policySyncWorkflow and policyBatchWorkflow on the real dev server, with in-memory fake activities:
 * start, signal, query, read the result — preflight, pause/resume, reruns, alerts, abort, continue-as-new.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { policySyncWorkflow } from '../../src/workflows';
import { sanitizeMessage } from '../../src/workflows/device-outcome';
import { failedDeviceCount, listedDevices } from '../../src/workflows/failure-ledger';
import { FailureType } from '../../src/domain/failure-codes';
import {
  acknowledgeAlertSignal,
  alertsQuery,
  failuresQuery,
  metricsQuery,
  pauseSignal,
  rerunSignal,
  resumeSignal,
} from '../../src/workflows/messages';
import { iotHubSearchAttribute, policySyncPhaseSearchAttribute } from '../../src/workflows/search-attributes';
import type { PolicySyncInput, RerunRequest, SyncMetrics } from '../../src/workflows/types';
import {
  connectTestTemporal,
  continueAsNewChain,
  createTestWorker,
  eventually,
  recordHistoryFixture,
  type TestTemporal,
} from '../support/temporal';
import { applyFailure, deviceIds, FakeAzure, Gate } from './fake-azure';

const HUB = 'hub-test';
let env: TestTemporal;
let queues = 0;

before(async () => {
  env = await connectTestTemporal();
});
after(async () => {
  await env?.close();
});

/** Runs `fn` with a worker whose activities are `fake`'s, on a task queue of its own. */
async function withFake<T>(fake: FakeAzure, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `${env.taskQueue}-${++queues}`;
  const worker = await createTestWorker(env, { taskQueue, activities: fake.activities() });
  return worker.runUntil(fn(taskQueue));
}

function syncOptions(taskQueue: string, input: Partial<PolicySyncInput> = {}) {
  return {
    taskQueue,
    workflowId: `iot-policy-sync-${HUB}-manual-${randomUUID()}`,
    args: [{ hub: HUB, target: 'arm', ...input } satisfies PolicySyncInput] as [PolicySyncInput],
    typedSearchAttributes: [{ key: iotHubSearchAttribute, value: HUB }],
    staticSummary: `policy sync of ${HUB}`,
    workflowExecutionTimeout: '3 minutes',
  };
}

function startSync(taskQueue: string, input: Partial<PolicySyncInput> = {}) {
  return env.client.workflow.start<typeof policySyncWorkflow>(
    'policySyncWorkflow',
    syncOptions(taskQueue, input),
  );
}

function metricsOf(handle: WorkflowHandle<typeof policySyncWorkflow>): Promise<SyncMetrics> {
  return handle.query(metricsQuery);
}

async function phaseAttribute(handle: WorkflowHandle): Promise<string | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(policySyncPhaseSearchAttribute);
}

const fast = { initialIntervalInMs: 50, maximumIntervalInMs: 200, maximumAttempts: 3 };

void describe('policySyncWorkflow', () => {
  void it(
    'starts, pauses, resumes, reruns, answers queries and returns the summary',
    { timeout: 90_000 },
    async () => {
      const fake = new FakeAzure(deviceIds(30));
      const gate = new Gate();
      let healed = false;
      fake.behavior = async ({ deviceId, attempt }, f) => {
        await delay(20);
        if ((deviceId === 'dev-05' || deviceId === 'dev-12') && !healed)
          throw applyFailure(
            FailureType.InvalidPolicy,
            `The policy document was refused for ${deviceId}\n    at stack (file.ts:1:1)`,
            { attempts: attempt, authErrors: 0, throttled: 0 },
            { nonRetryable: true },
          );
        if (deviceId === 'dev-07') return f.succeed(deviceId, 2, { authErrors: 1 });
        if (deviceId === 'dev-30') await gate.wait();
        return f.succeed(deviceId, attempt);
      };

      await withFake(fake, async (taskQueue) => {
        try {
          // Paused from its first moment (signal-with-start), so that nothing is written before we look.
          const handle = await env.client.workflow.signalWithStart<typeof policySyncWorkflow, []>(
            'policySyncWorkflow',
            {
              ...syncOptions(taskQueue, {
                batchSize: 5,
                maxConcurrentBatches: 2,
                reportEvery: 2,
                retry: fast,
              }),
              signal: pauseSignal,
              signalArgs: [],
            },
          );
          await eventually(
            'phase paused',
            () => metricsOf(handle),
            (m) => m.phase === 'paused',
          );
          await eventually(
            'search attribute paused',
            () => phaseAttribute(handle),
            (p) => p === 'paused',
          );
          const described = await handle.describe();
          assert.equal(described.typedSearchAttributes.get(iotHubSearchAttribute), HUB);
          await delay(700);
          assert.equal(fake.applyCalls.length, 0, 'no write while paused');
          assert.equal((await metricsOf(handle)).devicesTotal, 30);

          await handle.signal(resumeSignal);
          const seen: number[] = [];
          const held = await eventually(
            'all devices but the held one done',
            async () => {
              const m = await metricsOf(handle);
              seen.push(m.devicesDone);
              return m;
            },
            (m) => m.devicesDone === 29,
            30_000,
            25,
          );
          assert.ok(
            seen.every((done, i) => i === 0 || done >= seen[i - 1]!),
            `devicesDone never decreases: ${seen}`,
          );
          assert.ok(
            seen.some((done) => done > 0 && done < 29),
            `counts grow during the run: ${seen}`,
          );
          assert.equal(held.phase, 'syncing');
          assert.equal(held.successCount, 27);
          assert.equal(held.failureCount, 2);
          assert.equal(held.authErrors, 1);
          assert.ok(held.lastSuccessTime && held.startedAt && held.lastSuccessTime >= held.startedAt);

          const failures = await handle.query(failuresQuery);
          assert.deepEqual(failures.map((f) => [f.deviceId, f.code, f.attempts]).sort(), [
            ['dev-05', 'InvalidPolicy', 1],
            ['dev-12', 'InvalidPolicy', 1],
          ]);
          assert.ok(
            failures.every((f) => !f.message.includes('\n') && !f.message.includes('at stack')),
            'no stack in messages',
          );

          healed = true;
          await handle.signal(rerunSignal, { failedOnly: true });
          await eventually(
            'failures re-queued',
            () => handle.query(failuresQuery),
            (f) => f.length === 0,
          );
          await handle.signal(rerunSignal, { deviceIds: ['dev-01', 'ghost'] });
          await eventually(
            'reruns written',
            () => metricsOf(handle),
            (m) => m.devicesTotal === 31 && m.devicesDone === 30,
          );
          gate.open();

          const summary = await handle.result();
          assert.equal(summary.workflowId, handle.workflowId);
          assert.equal(summary.hub, HUB);
          assert.equal(summary.target, 'arm');
          assert.equal(summary.devicesTotal, 31);
          assert.equal(summary.succeeded, 30);
          assert.equal(summary.unchanged, 1, 'dev-01 written again');
          assert.deepEqual(summary.failed, []);
          assert.deepEqual(summary.rejected, [
            { source: 'rerun', row: 2, reason: 'Device ghost is not in the inventory' },
          ]);
          assert.equal(summary.authErrors, 1);
          assert.deepEqual(summary.alerts, []);
          assert.ok(summary.durationMs > 700);
          assert.equal(fake.callsFor('dev-05'), 2);
          assert.equal(fake.callsFor('dev-01'), 2);
          assert.equal(fake.writes.size, 30, 'every device holds the policy');
          assert.equal((await metricsOf(handle)).phase, 'done');
          await eventually(
            'search attribute done',
            () => phaseAttribute(handle),
            (p) => p === 'done',
          );
          // What the UI shows without a query of ours: current details and the batches' static summaries.
          const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
          const details = metadata.currentDetails ?? '';
          for (const line of [
            '- phase: **done**',
            '- devices done: **31 / 31**',
            '- written: **30**',
            '- already in sync: **1**',
            '- drifted (found not holding the policy): **30**',
            '- failed devices: **0**',
          ])
            assert.ok(details.includes(line), `${line} in:\n${details}`);
          const firstBatch = await env.client.workflow.getHandle(`${handle.workflowId}/batch-1`).describe();
          assert.equal(await firstBatch.staticSummary(), 'batch 1: 5 devices');

          await recordHistoryFixture(handle, 'policy-sync-pause-resume-rerun');
          await recordHistoryFixture(
            env.client.workflow.getHandle(`${handle.workflowId}/batch-1`),
            'policy-batch',
          );
        } finally {
          gate.open();
        }
      });
    },
  );

  void it('raises the auth error rate alert once per sync, across continue-as-new, and acknowledges it', async () => {
    const fake = new FakeAzure(deviceIds(40));
    const gate = new Gate();
    fake.behavior = async ({ deviceId }, f) => {
      if (deviceId === 'dev-40') await gate.wait();
      return f.succeed(deviceId, 2, { authErrors: 1 });
    };
    await withFake(fake, async (taskQueue) => {
      try {
        const handle = await startSync(taskQueue, {
          batchSize: 5,
          maxConcurrentBatches: 2,
          reportEvery: 2,
          continueAsNewAfterEvents: 100,
          alerts: { minAttempts: 20, authErrorRateThreshold: 0.1 },
        });
        const held = await eventually(
          '39 done',
          () => metricsOf(handle),
          (m) => m.devicesDone === 39,
        );
        assert.equal(held.authErrorRate, 0.5);
        const alerts = await handle.query(alertsQuery);
        assert.equal(alerts.length, 1);
        assert.equal(alerts[0]!.id, 'auth-error-rate');
        assert.equal(alerts[0]!.kind, 'AuthErrorRate');
        assert.equal(alerts[0]!.acknowledged, false);
        assert.match(alerts[0]!.message, /403/);
        assert.ok(!Number.isNaN(Date.parse(alerts[0]!.raisedAt)));

        await handle.signal(acknowledgeAlertSignal, { id: 'no-such-alert' });
        await handle.signal(acknowledgeAlertSignal, { id: 'auth-error-rate' });
        await eventually(
          'acknowledged',
          () => handle.query(alertsQuery),
          (a) => a[0]?.acknowledged === true,
        );
        gate.open();

        const summary = await handle.result();
        assert.equal(summary.succeeded, 40);
        assert.equal(summary.authErrors, 40);
        assert.equal(summary.alerts.length, 1);
        assert.equal(summary.alerts[0]!.acknowledged, true);
        assert.equal(fake.alertsSent.length, 1, 'sent through sendAlert once');
        const runs = await continueAsNewChain(env.client, handle.workflowId, handle.firstExecutionRunId);
        assert.ok(runs.length >= 2, `continued as new (${runs.length} runs)`);
      } finally {
        gate.open();
      }
    });
  });

  void it('waits for permissions to propagate, with backoff', async () => {
    const fake = new FakeAzure(deviceIds(12));
    fake.permission = (check) => ({
      granted: check >= 4,
      missing: check >= 4 ? [] : ['Microsoft.Devices/IotHubs/securityPolicies/write'],
      rolesAssigned: [],
      grantingRole: 'IoT Policy Writer',
    });
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, {
        batchSize: 5,
        preflight: { firstRecheckInMs: 100, maxRecheckInMs: 200, timeoutInMs: 60_000 },
      });
      const summary = await handle.result();
      assert.equal(summary.succeeded, 12);
      assert.equal(fake.permissionChecks, 4);
      const history = await handle.fetchHistory();
      const timers = (history.events ?? []).flatMap((e) => e.timerStartedEventAttributes ?? []);
      // A quarter longer each time (histories recorded before sync-defaults-v3 doubled: 100, 200, 200).
      assert.deepEqual(
        timers.map((t) => tsToMs(t.startToFireTimeout)),
        [100, 125, 156],
      );
      await recordHistoryFixture(handle, 'policy-sync-preflight-waited-v3');
    });
  });

  void it('fails with PermissionsNotPropagated when permissions never arrive, writing nothing', async () => {
    const fake = new FakeAzure(deviceIds(5));
    fake.permission = () => ({
      granted: false,
      missing: ['Microsoft.Devices/IotHubs/securityPolicies/write', 'Microsoft.Devices/IotHubs/Read'],
      rolesAssigned: ['Reader'],
      grantingRole: 'IoT Policy Writer',
    });
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, {
        preflight: { firstRecheckInMs: 100, maxRecheckInMs: 400, timeoutInMs: 1_500 },
      });
      const error = await handle.result().then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WorkflowFailedError);
      assert.ok(error.cause instanceof ApplicationFailure);
      assert.equal(error.cause.type, 'PermissionsNotPropagated');
      assert.equal(error.cause.nonRetryable, true);
      assert.match(error.cause.message, /securityPolicies\/write/);
      assert.match(error.cause.message, /IotHubs\/Read/);
      assert.equal(fake.applyCalls.length, 0, 'zero writes');
      assert.equal(fake.loadCalls, 0);
      assert.ok(fake.permissionChecks >= 2, `checked ${fake.permissionChecks} times: ${error.cause.message}`);
      assert.deepEqual(
        fake.alertsSent.map((a) => a.kind),
        ['PermissionsNotPropagated'],
      );
      const alerts = await handle.query(alertsQuery);
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.id, 'permissions-not-propagated');
      assert.equal((await metricsOf(handle)).phase, 'failed');
      await eventually(
        'search attribute failed',
        () => phaseAttribute(handle),
        (p) => p === 'failed',
      );
      await recordHistoryFixture(handle, 'policy-sync-permissions-not-propagated');
    });
  });

  void it('stops starting batches past the abort threshold and reports the rest as Aborted', async () => {
    const fake = new FakeAzure(deviceIds(30));
    fake.behavior = ({ deviceId, attempt }) => {
      throw applyFailure(
        FailureType.AuthorizationFailed,
        `403 AuthorizationFailed writing ${deviceId}`,
        { attempts: attempt, authErrors: attempt, throttled: 0 },
        { nextRetryDelayInMs: 10 },
      );
    };
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, {
        batchSize: 5,
        maxConcurrentBatches: 1,
        retry: { ...fast, maximumAttempts: 2 },
        alerts: { abortAfterAuthFailures: 5, minAttempts: 20 },
      });
      const summary = await handle.result();
      assert.equal(summary.devicesTotal, 30);
      assert.equal(summary.failed.length, 30, 'nothing silently dropped');
      const withCode = (code: string) => summary.failed.filter((f) => f.code === code).length;
      assert.equal(withCode('AuthorizationFailed'), 10);
      assert.equal(withCode('Aborted'), 20);
      assert.equal(fake.applyCalls.length, 20, '10 devices × 2 attempts');
      assert.equal(summary.authErrors, 20);
      assert.deepEqual(summary.alerts.map((a) => a.kind).sort(), ['AbortThreshold', 'AuthErrorRate']);
      assert.equal(fake.alertsSent.length, 2);
      const failures = await handle.query(failuresQuery);
      assert.equal(failures.find((f) => f.code === 'AuthorizationFailed')?.attempts, 2);
      await recordHistoryFixture(handle, 'policy-sync-abort');
    });
  });

  void it('reports a device whose writes time out with code Timeout', async () => {
    const fake = new FakeAzure(deviceIds(3));
    fake.behavior = async ({ deviceId, attempt }, f) => {
      if (deviceId === 'dev-2') await delay(5_000);
      return f.succeed(deviceId, attempt);
    };
    await withFake(fake, async (taskQueue) => {
      // 2 s: long enough that the instant devices never time out on a loaded machine.
      const handle = await startSync(taskQueue, {
        retry: {
          ...fast,
          maximumAttempts: 1,
          startToCloseTimeoutInMs: 2_000,
          scheduleToCloseTimeoutInMs: 2_000,
        },
      });
      const summary = await handle.result();
      assert.equal(summary.succeeded, 2);
      assert.deepEqual(
        summary.failed.map((f) => [f.deviceId, f.code]),
        [['dev-2', 'Timeout']],
      );
    });
  });

  void it('tries each device once locally, and gives the durable activity only the retryable failures', async () => {
    const fake = new FakeAzure(deviceIds(7));
    const counters = (attempt: number, authErrors: number, throttled: number) => ({
      attempts: attempt,
      authErrors,
      throttled,
    });
    fake.behavior = ({ deviceId, attempt }, f) => {
      if (deviceId === 'dev-1' && attempt === 1)
        throw applyFailure(FailureType.AuthorizationFailed, '403', counters(1, 1, 0), {
          nextRetryDelayInMs: 300,
        });
      if (deviceId === 'dev-1') return f.succeed(deviceId, attempt, { authErrors: 1 });
      if (deviceId === 'dev-2')
        throw applyFailure(FailureType.InvalidPolicy, 'refused', counters(attempt, 0, 0), {
          nonRetryable: true,
        });
      if (deviceId === 'dev-3' && attempt < 3)
        throw applyFailure(FailureType.Throttled, '429', counters(attempt, 0, attempt), {
          nextRetryDelayInMs: 50,
        });
      if (deviceId === 'dev-3') return f.succeed(deviceId, attempt, { throttled: 2 });
      if (deviceId === 'dev-4')
        throw applyFailure(FailureType.AuthorizationFailed, '403', counters(attempt, attempt, 0), {
          nextRetryDelayInMs: 20,
        });
      return f.succeed(deviceId, attempt);
    };
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, { retry: fast });
      const summary = await handle.result();
      const calls = (id: string) =>
        fake.applyCalls.filter((c) => c.deviceId === id).map((c) => `${c.attempt}${c.local ? 'L' : 'D'}`);
      assert.deepEqual(calls('dev-1'), ['1L', '2D'], '403: local, then durable after the delay');
      assert.deepEqual(calls('dev-2'), ['1L'], 'a failure no retry heals ends the device at once');
      assert.deepEqual(calls('dev-3'), ['1L', '2D', '3D']);
      assert.deepEqual(calls('dev-4'), ['1L', '2D', '3D'], 'maximumAttempts 3 counts the local attempt');
      for (const id of ['dev-5', 'dev-6', 'dev-7']) assert.deepEqual(calls(id), ['1L']);
      assert.equal(summary.succeeded, 5);
      assert.deepEqual(
        (await handle.query(failuresQuery)).map((f) => [f.deviceId, f.code, f.attempts]),
        [
          ['dev-2', 'InvalidPolicy', 1],
          ['dev-4', 'AuthorizationFailed', 3],
        ],
      );
      assert.equal(summary.authErrors, 1 + 3);

      // In history: one marker per local attempt, durable activities only for dev-1, dev-3 and dev-4, and a
      // timer for each first delay.
      const batch = env.client.workflow.getHandle(`${handle.workflowId}/batch-1`);
      const events = (await batch.fetchHistory()).events ?? [];
      const count = (has: (e: (typeof events)[number]) => unknown) => events.filter((e) => has(e)).length;
      assert.equal(
        count((e) => e.activityTaskScheduledEventAttributes),
        3,
      );
      assert.equal(
        count((e) => e.timerStartedEventAttributes),
        3,
      );
      assert.equal(
        count((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
        7,
        'one local attempt per device',
      );
      await recordHistoryFixture(batch, 'policy-batch-local-first');
    });
  });

  void it('writes the devices the gate held in one activity; hands on what a retry may heal', async () => {
    const fake = new FakeAzure(deviceIds(8));
    const fresh = { attempts: 0, authErrors: 0, throttled: 0 };
    fake.behavior = ({ deviceId, attempt, local, grouped }, f) => {
      const n = Number(deviceId.slice(4));
      // dev-1..6: held at the gate by their local attempts (nothing sent: not a try).
      if (local && n <= 6)
        throw applyFailure(FailureType.Throttled, 'held at the gate', fresh, {
          nextRetryDelayInMs: 250,
          heldAtGate: true,
        });
      if (local && n === 7)
        throw applyFailure(
          FailureType.AuthorizationFailed,
          '403',
          { ...fresh, attempts: 1, authErrors: 1 },
          {
            nextRetryDelayInMs: 20,
          },
        );
      if (grouped && n === 4)
        throw applyFailure(
          FailureType.Throttled,
          '429',
          { attempts: attempt, authErrors: 0, throttled: 1 },
          {
            nextRetryDelayInMs: 20,
          },
        );
      if (grouped && n === 5)
        throw applyFailure(
          FailureType.InvalidPolicy,
          'refused',
          { ...fresh, attempts: attempt },
          {
            nonRetryable: true,
          },
        );
      if (grouped && n === 6)
        throw applyFailure(
          FailureType.AuthorizationFailed,
          '403',
          { attempts: attempt, authErrors: 2, throttled: 0 },
          {
            nextRetryDelayInMs: 20,
          },
        );
      // The real activity's result carries the 403s of the tries before it (the group's, the local one's).
      const authErrors = grouped && n === 1 ? 3 : n === 6 ? 2 : n === 7 ? 1 : 0;
      return f.succeed(deviceId, attempt, { authErrors });
    };
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, { retry: fast });
      const summary = await handle.result();
      const calls = (id: string) =>
        fake.applyCalls
          .filter((c) => c.deviceId === id)
          .map((c) => `${c.attempt}${c.local ? 'L' : c.grouped ? 'G' : 'D'}`);
      for (const id of ['dev-1', 'dev-2', 'dev-3']) assert.deepEqual(calls(id), ['1L', '1G']);
      assert.deepEqual(calls('dev-4'), ['1L', '1G', '2D'], 'a 429 in the group: its own activity after');
      assert.deepEqual(calls('dev-5'), ['1L', '1G'], 'a final failure in the group ends the device');
      assert.deepEqual(calls('dev-6'), ['1L', '1G', '2D']);
      assert.deepEqual(calls('dev-7'), ['1L', '2D'], 'refused, not held: its own activity, as before');
      assert.deepEqual(calls('dev-8'), ['1L']);
      assert.equal(summary.succeeded, 7);
      assert.deepEqual(
        (await handle.query(failuresQuery)).map((f) => [f.deviceId, f.code, f.attempts]),
        [['dev-5', 'InvalidPolicy', 1]],
      );
      assert.equal(summary.authErrors, 3 + 2 + 1, "the group's 403s, the handed-on device's, dev-7's");

      // In history: one applySecurityPolicies for the six held devices, applySecurityPolicy for dev-4, dev-6 and
      // dev-7, and no progress signal marked final (the batch's result carries its last outcomes).
      const batch = env.client.workflow.getHandle(`${handle.workflowId}/batch-1`);
      const events = (await batch.fetchHistory()).events ?? [];
      const scheduled = events.flatMap((e) => {
        const attributes = e.activityTaskScheduledEventAttributes;
        return attributes ? [attributes] : [];
      });
      assert.deepEqual(scheduled.map((a) => a.activityType?.name).sort(), [
        'applySecurityPolicies',
        'applySecurityPolicy',
        'applySecurityPolicy',
        'applySecurityPolicy',
      ]);
      const groupInput = JSON.parse(
        Buffer.from(
          scheduled.find((a) => a.activityType?.name === 'applySecurityPolicies')!.input!.payloads![0]!.data!,
        ).toString(),
      ) as { devices: { deviceId: string }[] };
      assert.deepEqual(
        groupInput.devices.map((d) => d.deviceId),
        ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6'],
      );
      const finals = events.filter((e) => {
        const payload = e.signalExternalWorkflowExecutionInitiatedEventAttributes?.input?.payloads?.[0]?.data;
        return payload && (JSON.parse(Buffer.from(payload).toString()) as { final?: boolean }).final === true;
      });
      assert.equal(finals.length, 0, 'no final progress signal');
      await recordHistoryFixture(batch, 'policy-batch-gate-held-grouped');
    });
  });

  void it('takes each device of a lost group on from its last heartbeat', { timeout: 60_000 }, async () => {
    const fake = new FakeAzure(deviceIds(4));
    const fresh = { attempts: 0, authErrors: 0, throttled: 0 };
    fake.behavior = ({ deviceId, attempt, local }, f) => {
      if (local)
        throw applyFailure(FailureType.Throttled, 'held at the gate', fresh, {
          nextRetryDelayInMs: 250,
          heldAtGate: true,
        });
      // dev-2's durable activity: its tries in the group carried on (2 tries, 2 403s, one maybe unreported).
      return f.succeed(deviceId, attempt, deviceId === 'dev-2' ? { authErrors: 2 } : {});
    };
    // The group wrote dev-1, tried dev-2 twice (403s), and dev-4 until its tries were spent; then its worker died.
    fake.loseGroupWith = {
      devices: {
        'dev-2': { attempts: 2, authErrors: 2, throttled: 0 },
        'dev-4': { attempts: 3, authErrors: 3, throttled: 0 },
      },
      written: { 'dev-1': { status: 'succeeded', attempts: 1, authErrors: 0, throttled: 0 } },
    };
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, { retry: fast });
      const summary = await handle.result();
      const calls = (id: string) =>
        fake.applyCalls
          .filter((c) => c.deviceId === id)
          .map((c) => `${c.attempt}${c.local ? 'L' : c.grouped ? 'G' : 'D'}`);
      assert.deepEqual(calls('dev-1'), ['1L', '1G'], 'written by the group: done');
      assert.deepEqual(calls('dev-2'), ['1L', '1G', '3D'], 'goes on from the tries the heartbeat reported');
      assert.deepEqual(calls('dev-3'), ['1L', '1G', '1D'], 'nothing reported: from its local attempt');
      assert.deepEqual(calls('dev-4'), ['1L', '1G'], 'its tries spent (maximumAttempts 3): failed');
      assert.equal(summary.succeeded, 3);
      assert.deepEqual(
        (await handle.query(failuresQuery)).map((f) => [f.deviceId, f.code, f.attempts]),
        [['dev-4', 'Timeout', 3]],
      );
      // dev-2's durable attempt was told its next try reads first (a try may have followed the heartbeat).
      const batch = env.client.workflow.getHandle(`${handle.workflowId}/batch-1`);
      const events = (await batch.fetchHistory()).events ?? [];
      const inputs = events.flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        if (a?.activityType?.name !== 'applySecurityPolicy') return [];
        return [
          JSON.parse(Buffer.from(a.input!.payloads![0]!.data!).toString()) as {
            deviceId: string;
            prior?: unknown;
          },
        ];
      });
      assert.deepEqual(inputs.find((i) => i.deviceId === 'dev-2')?.prior, {
        attempts: 2,
        authErrors: 2,
        throttled: 0,
        unsure: 1,
      });
      await recordHistoryFixture(batch, 'policy-batch-gate-held-group-lost');
    });
  });

  void it('raises the 403-rate alert during a retry storm, before the retried devices finish', async () => {
    const fake = new FakeAzure(deviceIds(30));
    const gate = new Gate();
    fake.behavior = async ({ deviceId, attempt }, f) => {
      const storm = Number(deviceId.slice(4)) <= 25;
      if (storm && attempt === 1)
        throw applyFailure(
          FailureType.AuthorizationFailed,
          '403',
          { attempts: 1, authErrors: 1, throttled: 0 },
          {
            nextRetryDelayInMs: 10,
          },
        );
      if (storm) await gate.wait();
      return f.succeed(deviceId, attempt, storm ? { authErrors: 1 } : {});
    };
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, { retry: fast });
      try {
        const alerts = await eventually(
          'the AuthErrorRate alert while 25 devices are held in their retries',
          () => handle.query(alertsQuery),
          (a) => a.some((alert) => alert.kind === 'AuthErrorRate'),
        );
        // Raised while every storm device was still held in its retries: the 403s it counts are theirs.
        const counted = /\((\d+) 403 responses in (\d+) attempts\)/.exec(alerts[0]?.message ?? '');
        assert.ok(counted && Number(counted[1]) >= 20, alerts[0]?.message);
        const live = await eventually(
          'live metrics with the 5 finished devices and the 25 first 403s',
          () => metricsOf(handle),
          (m) => m.devicesDone === 5 && m.authErrors === 25,
        );
        assert.equal(live.authErrorRate, 25 / 30);
      } finally {
        gate.open();
      }
      const summary = await handle.result();
      assert.equal(summary.succeeded, 30);
      assert.equal(summary.authErrors, 25, 'each 403 counted once, after the devices finished');
      assert.deepEqual(
        summary.alerts.map((a) => a.kind),
        ['AuthErrorRate'],
      );
    });
  });

  void it('pages 300 devices through the default window (recorded: replay guards the defaults)', async () => {
    const fake = new FakeAzure(deviceIds(300));
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue);
      const summary = await handle.result();
      assert.equal(summary.succeeded, 300);
      const events = (await handle.fetchHistory()).events ?? [];
      const pages = events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'readDriftedInventoryPage',
      ).length;
      assert.equal(pages, 1, 'one page of 500 (50 × 10) holds the whole fleet');
      await recordHistoryFixture(handle, 'policy-sync-default-window-300');
    });
  });

  void it('runs every attempt as a durable activity with retry.localFirstAttempt false', async () => {
    const fake = new FakeAzure(deviceIds(3));
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, { retry: { ...fast, localFirstAttempt: false } });
      assert.equal((await handle.result()).succeeded, 3);
      assert.deepEqual(
        fake.applyCalls.map((c) => c.local),
        [false, false, false],
      );
    });
  });

  void it('reruns the whole inventory on rerun {}, without writing devices not reached yet twice', async () => {
    const fake = new FakeAzure(deviceIds(10));
    const gate = new Gate();
    fake.behavior = async ({ deviceId, attempt }, f) => {
      if (deviceId === 'dev-10' && !f.writes.has(deviceId)) await gate.wait();
      return f.succeed(deviceId, attempt);
    };
    await withFake(fake, async (taskQueue) => {
      try {
        // Signal-with-start: a rerun before the first batch changes nothing.
        const handle = await env.client.workflow.signalWithStart<typeof policySyncWorkflow, [RerunRequest?]>(
          'policySyncWorkflow',
          {
            ...syncOptions(taskQueue, { batchSize: 5, maxConcurrentBatches: 2, reportEvery: 1 }),
            signal: rerunSignal,
            signalArgs: [{}],
          },
        );
        await eventually(
          '9 done',
          () => metricsOf(handle),
          (m) => m.devicesDone === 9,
        );
        assert.equal((await metricsOf(handle)).devicesTotal, 10);
        await handle.signal(rerunSignal, {});
        await eventually(
          'rerun planned',
          () => metricsOf(handle),
          (m) => m.devicesTotal === 20,
        );
        gate.open();
        const summary = await handle.result();
        assert.equal(summary.devicesTotal, 20);
        assert.equal(summary.succeeded, 10);
        assert.equal(summary.unchanged, 10);
        assert.equal(fake.applyCalls.length, 20);
      } finally {
        gate.open();
      }
    });
  });

  void it(
    'carries thousands of failures through continue-as-new and lists them all in the result (2 MB payload limit)',
    { timeout: 180_000 },
    async () => {
      // IoT Hub's longest ids (128 characters) and messages at their cap (300): as a plain list, 4,500 such
      // failures are over 2 MB, and the server used to terminate the run at continue-as-new.
      const ids = deviceIds(4_500, `stale-${'x'.repeat(116)}`);
      const fake = new FakeAzure(ids);
      const messageFor = (deviceId: string) =>
        `404 DeviceNotFound writing the security policy of device '${deviceId}': the device is not registered ` +
        `in the hub. Remove it from the inventory or register it. ${'(detail) '.repeat(20)}`;
      fake.behavior = ({ deviceId, attempt }) => {
        throw applyFailure(
          FailureType.DeviceNotFound,
          messageFor(deviceId),
          { attempts: attempt, authErrors: 0, throttled: 0 },
          { nonRetryable: true },
        );
      };
      await withFake(fake, async (taskQueue) => {
        const handle = await startSync(taskQueue, {
          batchSize: 50,
          maxConcurrentBatches: 10,
          continueAsNewAfterEvents: 300,
        });
        const summary = await handle.result();
        assert.equal(summary.devicesTotal, 4_500);
        assert.equal(failedDeviceCount(summary), 4_500);
        const listed = listedDevices(summary.failed).map((f) => f.deviceId);
        const missing = ids.filter((id) => !listed.includes(id));
        assert.equal(missing.length, 0, `${missing.length} failed devices not listed, e.g. ${missing[0]}`);
        assert.equal(listed.length, ids.length, 'each once');
        assert.ok(summary.failed.every((f) => f.code === 'DeviceNotFound'));
        const first = summary.failed[0]!;
        assert.equal(first.message, sanitizeMessage(messageFor(first.deviceId)), 'the first message whole');
        assert.equal(summary.failed.at(-1)!.message, 'same cause as entry 1');
        const failures = await handle.query(failuresQuery);
        assert.equal(failures.length, 4_500);
        const runs = await continueAsNewChain(env.client, handle.workflowId, handle.firstExecutionRunId);
        assert.ok(runs.length >= 2, `continued as new (${runs.length} runs)`);
      });
    },
  );

  void it('continues as new with the window drained, carrying everything', { timeout: 120_000 }, async () => {
    const fake = new FakeAzure(deviceIds(150));
    fake.behavior = ({ deviceId, attempt }, f) => {
      if (deviceId === 'dev-077')
        throw applyFailure(FailureType.DeviceNotFound, 'no such device', {
          attempts: 1,
          authErrors: 0,
          throttled: 0,
        });
      return f.succeed(deviceId, attempt);
    };
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, {
        batchSize: 5,
        maxConcurrentBatches: 3,
        reportEvery: 2,
        // Low enough that a slow worker (fewer, larger workflow tasks) still needs three runs.
        continueAsNewAfterEvents: 110,
      });
      const summary = await handle.result();
      assert.equal(summary.devicesTotal, 150);
      assert.equal(summary.succeeded, 149);
      assert.deepEqual(
        summary.failed.map((f) => [f.deviceId, f.code]),
        [['dev-077', 'DeviceNotFound']],
      );
      assert.equal(fake.writes.size, 149);
      assert.equal(fake.applyCalls.length, 150, 'each device once: nothing lost or repeated across runs');
      const runs = await continueAsNewChain(env.client, handle.workflowId, handle.firstExecutionRunId);
      assert.ok(runs.length >= 3, `several runs: ${JSON.stringify(runs)}`);
      for (const run of runs) assert.ok(run.events < 400, `run ${run.runId} has ${run.events} events`);
      const latest = await handle.describe();
      assert.equal(latest.typedSearchAttributes.get(iotHubSearchAttribute), HUB);
      assert.equal(latest.typedSearchAttributes.get(policySyncPhaseSearchAttribute), 'done');
      const [first, second] = runs;
      await recordHistoryFixture(
        env.client.workflow.getHandle(handle.workflowId, first!.runId),
        'policy-sync-can-run-1',
      );
      await recordHistoryFixture(
        env.client.workflow.getHandle(handle.workflowId, second!.runId),
        'policy-sync-can-run-2',
      );
    });
  });

  void it('ends a cancelled sync after its batches are cancelled', async () => {
    const fake = new FakeAzure(deviceIds(20));
    const gate = new Gate();
    fake.behavior = async ({ deviceId, attempt }, f) => {
      if (deviceId !== 'dev-01') await gate.wait();
      return f.succeed(deviceId, attempt);
    };
    await withFake(fake, async (taskQueue) => {
      try {
        const handle = await startSync(taskQueue, { batchSize: 5, maxConcurrentBatches: 2, reportEvery: 1 });
        await eventually(
          'one device done',
          () => metricsOf(handle),
          (m) => m.devicesDone === 1,
        );
        await handle.cancel();
        const error = await handle.result().then(
          () => assert.fail('should be cancelled'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure);
        for (const n of [1, 2]) {
          const batch = await env.client.workflow.getHandle(`${handle.workflowId}/batch-${n}`).describe();
          assert.equal(batch.status.name, 'CANCELLED', `batch ${n}`);
        }
        assert.equal((await metricsOf(handle)).phase, 'failed');
        assert.equal(fake.callsFor('dev-11'), 0, 'no batch started after the cancel');
      } finally {
        gate.open();
      }
    });
  });

  void it('restricts the run to deviceIds and rejects unknown ones', async () => {
    const fake = new FakeAzure(deviceIds(10));
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, { deviceIds: ['dev-02', 'dev-09', 'nope'] });
      const summary = await handle.result();
      assert.equal(summary.devicesTotal, 2);
      assert.equal(summary.succeeded, 2);
      assert.deepEqual(summary.rejected, [
        { source: '--devices', row: 3, reason: 'Device nope is not in the inventory' },
      ]);
      assert.deepEqual([...fake.writes.keys()].sort(), ['dev-02', 'dev-09']);
    });
  });

  void it('refuses invalid input with every problem listed', async () => {
    const fake = new FakeAzure([]);
    await withFake(fake, async (taskQueue) => {
      const handle = await startSync(taskQueue, {
        batchSize: 500,
        maxConcurrentBatches: 0,
        target: 'ftp' as 'arm',
      });
      const error = await handle.result().then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure);
      assert.equal(error.cause.type, 'InvalidInput');
      assert.match(error.cause.message, /target/);
      assert.match(error.cause.message, /batchSize/);
      assert.match(error.cause.message, /maxConcurrentBatches/);
    });
  });
});
