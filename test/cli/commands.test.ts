/**
 * Every command against the run's dev server (TEMPORAL_TEST_ADDRESS), an in-process emulator and a
 * worker on a task queue of this file's own; the CLI runs as a subprocess, as a user runs it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { freePort } from '../../src/devserver/dev-server';
import { resolveTemporalCli } from '../../src/devserver/temporal-cli';
import { startEmulator, type Emulator } from '../../src/emulator';
import { silentLogger } from '../../src/logger';
import { startManualSync, syncInput } from '../../src/cli/sync-runs';
import { createPolicySyncWorker, type PolicySyncWorker } from '../../src/worker';
import type { RunSummary, SyncMetrics } from '../../src/workflows/types';
import { connectTestTemporal, eventually, type TestTemporal } from '../support/temporal';
import { runCli, show, startCli, stdoutJson } from './helpers';

const execFileAsync = promisify(execFile);
const HUB = 'hub-emulated';
const SCHEDULE_ID = `iot-policy-sync-${HUB}`;
const GHOST = 'ghost-device-1';

let temporal: TestTemporal;
let emulator: Emulator;
let worker: PolicySyncWorker;
let workerRun: Promise<void>;
let env: NodeJS.ProcessEnv;
let temporalCli: string;

async function terminateRunningSyncs(): Promise<void> {
  for await (const info of temporal.client.workflow.list({
    query: `WorkflowType='policySyncWorkflow' AND IotHub='${HUB}' AND ExecutionStatus='Running'`,
  })) {
    await temporal.client.workflow
      .getHandle(info.workflowId, info.runId)
      .terminate('left running by an earlier test file')
      .catch(() => undefined);
  }
}

async function deleteSchedule(): Promise<void> {
  await temporal.client.schedule
    .getHandle(SCHEDULE_ID)
    .delete()
    .catch(() => undefined);
}

before(async () => {
  temporal = await connectTestTemporal();
  emulator = await startEmulator({ devices: 30, profile: 'calm' });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emulator.caPem]);
  // The emulator's 30 devices plus one the hub does not have: its write fails with DeviceNotFound.
  const dir = mkdtempSync(join(tmpdir(), 'policy-sync-cli-'));
  const devicesFile = join(dir, 'devices.json');
  const devices = JSON.parse(readFileSync(emulator.env.DEVICES_FILE!, 'utf8')) as {
    deviceId: string;
    policy: string;
  }[];
  writeFileSync(devicesFile, JSON.stringify([...devices, { deviceId: GHOST, policy: devices[0]!.policy }]));
  env = {
    ...emulator.env,
    DEVICES_FILE: devicesFile,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: temporal.taskQueue,
  };
  const config = loadConfig(env);
  worker = await createPolicySyncWorker(config, {
    connection: temporal.nativeConnection,
    logger: silentLogger,
    ...(process.env.TEST_WORKFLOW_BUNDLE ? { workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE } : {}),
  });
  workerRun = worker.run();
  temporalCli = resolveTemporalCli({ build: false }) ?? 'temporal';
  await terminateRunningSyncs();
  await deleteSchedule();
});

after(async () => {
  await deleteSchedule();
  await terminateRunningSyncs();
  worker?.shutdown();
  await workerRun;
  await emulator?.close();
  await temporal?.close();
});

async function temporalCliJson(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    temporalCli,
    [...args, '--address', temporal.address, '--namespace', 'default'],
    {
      timeout: 30_000,
    },
  );
  return stdout;
}

describe('policy-sync schedule', () => {
  it('create makes the 4-hour schedule that the Temporal CLI sees; a second create updates it', async () => {
    const created = await runCli(['schedule', 'create'], env);
    assert.equal(created.code, 0, show(created));
    assert.match(
      created.stdout,
      new RegExp(`Created schedule ${SCHEDULE_ID}: every 4h, overlap SKIP, catch-up window 1h`),
    );

    const described = await temporalCliJson([
      'schedule',
      'describe',
      '--schedule-id',
      SCHEDULE_ID,
      '-o',
      'json',
    ]);
    const spec = (JSON.parse(described) as { schedule: { spec: { interval: { interval: string }[] } } })
      .schedule.spec;
    assert.equal(spec.interval[0]?.interval, '14400s', described);

    const again = await runCli(['schedule', 'create', '--json'], env);
    assert.equal(again.code, 0, show(again));
    const json = stdoutJson<{ result: string; intervals: { everyMs: number }[] }>(again);
    assert.equal(json.result, 'updated');
    assert.equal(json.intervals[0]?.everyMs, 4 * 3_600_000);
  });

  it('describe shows the interval, policies and the run input, in text and JSON', async () => {
    const text = await runCli(['schedule', 'describe'], env);
    assert.equal(text.code, 0, show(text));
    assert.match(text.stdout, /every\s+4h/);
    assert.match(text.stdout, /overlap\s+SKIP/);
    assert.match(text.stdout, /catch-up window\s+1h/);
    assert.match(text.stdout, /IotHub=hub-emulated/);

    const json = stdoutJson<{
      overlap: string;
      catchupWindowMs: number;
      searchAttributes: Record<string, unknown>;
      action: {
        workflowType: string;
        taskQueue: string;
        args: { hub: string; target: string; batchSize: number }[];
      };
    }>(await runCli(['schedule', 'describe', '--json'], env));
    assert.equal(json.overlap, 'SKIP');
    assert.equal(json.catchupWindowMs, 3_600_000);
    assert.equal(json.searchAttributes.IotHub, HUB);
    assert.equal(json.action.workflowType, 'policySyncWorkflow');
    assert.equal(json.action.taskQueue, temporal.taskQueue);
    assert.deepEqual(
      { hub: json.action.args[0]?.hub, target: json.action.args[0]?.target },
      { hub: HUB, target: 'arm' },
    );
    assert.equal(typeof json.action.args[0]?.batchSize, 'number');
  });

  it('pause and unpause', async () => {
    const paused = await runCli(['schedule', 'pause', '--note', 'maintenance'], env);
    assert.equal(paused.code, 0, show(paused));
    let json = stdoutJson<{ paused: boolean; note: string }>(
      await runCli(['schedule', 'describe', '--json'], env),
    );
    assert.deepEqual([json.paused, json.note], [true, 'maintenance']);
    const unpaused = await runCli(['schedule', 'unpause', '--json'], env);
    assert.equal(unpaused.code, 0, show(unpaused));
    json = stdoutJson(await runCli(['schedule', 'describe', '--json'], env));
    assert.equal(json.paused, false);
  });

  it('trigger states its overlap policy and starts a sync', async () => {
    const triggered = await runCli(['schedule', 'trigger', '--json'], env);
    assert.equal(triggered.code, 0, show(triggered));
    const { workflowId, ...rest } = stdoutJson<{ workflowId: string }>(triggered);
    assert.deepEqual(rest, { result: 'triggered', scheduleId: SCHEDULE_ID, overlap: 'SKIP' });
    const recent = (await temporal.client.schedule.getHandle(SCHEDULE_ID).describe()).info.recentActions;
    assert.equal(recent.at(-1)?.action.workflow.workflowId, workflowId);
    assert.ok(workflowId.startsWith(`${SCHEDULE_ID}-`), workflowId);
    const summary = (await temporal.client.workflow.getHandle(workflowId).result()) as RunSummary;
    assert.equal(summary.devicesTotal, 31);

    const text = await runCli(['schedule', 'trigger', '--overlap', 'buffer-one'], env);
    assert.equal(text.code, 0, show(text));
    assert.match(text.stdout, /overlap BUFFER_ONE/);
  });

  it('trigger says what happened; pause and resume act on every running sync of the hub', async () => {
    // Slow syncs, one device at a time, so that a manual and a scheduled one run side by side. Fresh devices:
    // a sync observes the fleet first and writes only drift, so an already synced fleet would end at once.
    emulator.reset();
    emulator.setProfile('calm', { latency: { fixedMs: 150, jitterMs: 0 } });
    const flags = ['--batch-size', '1', '--max-concurrent-batches', '1'];
    const started: string[] = [];
    try {
      assert.equal((await runCli(['schedule', 'create', ...flags], env)).code, 0);
      const manual = await runCli(['run', '--json', ...flags], env);
      assert.equal(manual.code, 0, show(manual));
      const manualId = stdoutJson<{ workflowId: string }>(manual).workflowId;
      started.push(manualId);

      const first = await runCli(['schedule', 'trigger', '--json'], env);
      assert.equal(first.code, 0, show(first));
      const triggered = stdoutJson<{ result: string; workflowId: string; alsoRunning?: string[] }>(first);
      assert.equal(triggered.result, 'triggered', show(first));
      assert.ok(triggered.workflowId.startsWith(`${SCHEDULE_ID}-`), show(first));
      started.push(triggered.workflowId);
      // SKIP does not see the manual sync: the command says both write.
      assert.deepEqual(triggered.alsoRunning, [manualId], show(first));

      const second = await runCli(['schedule', 'trigger'], env);
      assert.equal(second.code, 0, show(second));
      assert.match(
        second.stdout,
        new RegExp(`skipped, the schedule's previous run is still running \\(${triggered.workflowId}\\)`),
        show(second),
      );

      const paused = await runCli(['pause', '--json'], env);
      assert.equal(paused.code, 0, show(paused));
      assert.deepEqual(
        stdoutJson<{ workflowIds: string[] }>(paused).workflowIds.sort(),
        [manualId, triggered.workflowId].sort(),
      );
      for (const workflowId of started)
        await eventually(
          `${workflowId} paused`,
          async () =>
            (await temporal.client.workflow.getHandle(workflowId).query<SyncMetrics>('metrics')).phase,
          (phase) => phase === 'paused',
          30_000,
          250,
        );
      const resumed = await runCli(['resume'], env);
      assert.equal(resumed.code, 0, show(resumed));
      for (const workflowId of started) assert.match(resumed.stdout, new RegExp(`Resumed ${workflowId}`));
    } finally {
      emulator.setProfile('calm');
      for (const workflowId of started)
        await temporal.client.workflow
          .getHandle(workflowId)
          .terminate('end of test')
          .catch(() => undefined);
      await runCli(['schedule', 'create'], env);
    }
  });

  it('delete, then describe says there is no schedule (exit 1)', async () => {
    const deleted = await runCli(['schedule', 'delete'], env);
    assert.equal(deleted.code, 0, show(deleted));
    const missing = await runCli(['schedule', 'describe'], env);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /schedule iot-policy-sync-hub-emulated not found/);
    await terminateRunningSyncs();
  });
});

describe('policy-sync run, status, rerun', () => {
  let lastWorkflowId = '';

  it('run --wait --json: progress on stderr, only the summary on stdout, exit 1 for the failed device', async () => {
    const result = await runCli(['run', '--wait', '--json'], env);
    assert.equal(result.code, 1, show(result));
    const summary = stdoutJson<RunSummary>(result);
    assert.equal(summary.hub, HUB);
    assert.equal(summary.devicesTotal, 31);
    assert.equal(summary.succeeded + summary.unchanged, 30);
    assert.deepEqual(
      summary.failed.map((f) => [f.deviceId, f.code]),
      [[GHOST, 'DeviceNotFound']],
    );
    assert.match(summary.workflowId, /^iot-policy-sync-hub-emulated-manual-\d{4}-\d\d-\d\dT\d{6}\.\d{3}Z$/);
    assert.match(result.stderr, /Started iot-policy-sync-hub-emulated-manual-/);
    lastWorkflowId = summary.workflowId;
  });

  it('status shows the last sync (closed) with its metrics and summary', async () => {
    const json = stdoutJson<{
      workflowId: string;
      status: string;
      metrics: SyncMetrics;
      summary: RunSummary;
    }>(await runCli(['status', '--json'], env));
    assert.equal(json.workflowId, lastWorkflowId);
    assert.equal(json.status, 'COMPLETED');
    assert.equal(json.metrics.devicesTotal, 31);
    assert.equal(json.summary.failed.length, 1);
    // A finished sync with a failed device: exit 1, as run --wait; its summary once (not the metrics as well).
    assert.equal((await runCli(['status', '--json'], env)).code, 1);
    const text = await runCli(['status'], env);
    assert.equal(text.code, 1, show(text));
    assert.equal(text.stdout.match(/1 of 31 devices failed; 30 in sync/g)?.length, 1, text.stdout);
    assert.equal(text.stdout.match(/403 responses/g)?.length, 1, text.stdout);
    assert.match(text.stdout, /403 responses \(all write attempts\)\s*│\s*0 in \d+ write attempts \(0\.0%\)/);
    assert.doesNotMatch(text.stdout, /devices done/);
  });

  it('rerun --devices with an id the inventory lacks and none running: refused, nothing started', async () => {
    const result = await runCli(['rerun', '--devices', 'nope-1,device-0001'], env);
    assert.equal(result.code, 2, show(result));
    assert.match(result.stderr, /--devices: 'nope-1' is not in the inventory; nothing was started/);
    const status = stdoutJson<{ workflowId: string }>(await runCli(['status', '--json'], env));
    assert.equal(status.workflowId, lastWorkflowId, 'the last sync is still the one status shows');
  });

  it('alerts lists the last sync’s alerts; ack refuses a closed sync', async () => {
    const listed = await runCli(['alerts'], env);
    assert.equal(listed.code, 0, show(listed));
    assert.match(listed.stdout, new RegExp(`${lastWorkflowId} — completed\nNo alerts\\.`));
    const json = stdoutJson<{ workflowId: string; alerts: unknown[] }>(
      await runCli(['alerts', '--json'], env),
    );
    assert.deepEqual([json.workflowId, json.alerts], [lastWorkflowId, []]);
    const ack = await runCli(['alerts', 'ack', 'auth-error-rate'], env);
    assert.equal(ack.code, 1, show(ack));
    assert.match(ack.stderr, /is completed: only a running sync takes acknowledgements/);
  });

  it('rerun --failed-only with none running starts a sync of the last run’s failures', async () => {
    const result = await runCli(['rerun', '--failed-only', '--json'], env);
    assert.equal(result.code, 0, show(result));
    const json = stdoutJson<{ result: string; workflowId: string; deviceIds: string[]; from: string }>(
      result,
    );
    assert.deepEqual([json.result, json.deviceIds, json.from], ['started', [GHOST], lastWorkflowId]);
    const summary = (await temporal.client.workflow.getHandle(json.workflowId).result()) as RunSummary;
    assert.equal(summary.devicesTotal, 1);
    assert.deepEqual(
      summary.failed.map((f) => f.deviceId),
      [GHOST],
    );

    const none = await runCli(['rerun', '--failed-only', '--devices', 'device-0001'], env);
    assert.equal(none.code, 0, show(none));
    assert.match(none.stdout, /Nothing to rerun: no failed devices among those given/);
  });

  it('on a running sync: pause, the metrics query (ours and the Temporal CLI’s), rerun by signal, resume, status --watch', async () => {
    emulator.setProfile('calm', { latency: { fixedMs: 150, jitterMs: 0 } });
    try {
      const devices = Array.from({ length: 12 }, (_, i) => `device-${String(i + 1).padStart(4, '0')}`);
      const started = await runCli(
        [
          'run',
          '--json',
          '--devices',
          devices.join(','),
          '--batch-size',
          '1',
          '--max-concurrent-batches',
          '1',
        ],
        env,
      );
      assert.equal(started.code, 0, show(started));
      const { workflowId } = stdoutJson<{ workflowId: string }>(started);

      const paused = await runCli(['pause'], env);
      assert.equal(paused.code, 0, show(paused));
      assert.match(paused.stdout, new RegExp(`Paused ${workflowId}`));
      await eventually(
        'phase paused',
        async () =>
          (await temporal.client.workflow.getHandle(workflowId).query<SyncMetrics>('metrics')).phase,
        (phase) => phase === 'paused',
        30_000,
        250,
      );
      const status = await runCli(['status', '--json'], env);
      assert.equal(status.code, 0, show(status));
      const live = stdoutJson<{ workflowId: string; status: string; metrics: SyncMetrics }>(status);
      assert.deepEqual([live.workflowId, live.status, live.metrics.phase], [workflowId, 'RUNNING', 'paused']);

      const queried = await temporalCliJson([
        'workflow',
        'query',
        '--workflow-id',
        workflowId,
        '--type',
        'metrics',
      ]);
      assert.match(queried, /"devicesTotal":\s*12/, queried);
      assert.match(queried, /"phase":\s*"paused"/, queried);

      const ack = await runCli(['alerts', 'ack', 'auth-error-rate'], env);
      assert.equal(ack.code, 2, show(ack));
      assert.match(ack.stderr, new RegExp(`${workflowId} has no alert 'auth-error-rate'; it has no alerts`));

      const rerun = await runCli(['rerun', '--devices', 'device-0001', '--json'], env);
      assert.equal(rerun.code, 0, show(rerun));
      assert.deepEqual(stdoutJson(rerun), {
        result: 'signalled',
        workflowId,
        request: { deviceIds: ['device-0001'] },
      });

      const resumed = await runCli(['resume'], env);
      assert.equal(resumed.code, 0, show(resumed));

      const watched = await runCli(['status', '--watch', '--json', '--workflow-id', workflowId], env);
      assert.equal(watched.code, 0, show(watched));
      const summary = stdoutJson<RunSummary>(watched);
      assert.equal(summary.workflowId, workflowId);
      // device-0001 was most likely written before the pause, so the rerun queued it once more.
      assert.ok(summary.devicesTotal === 12 || summary.devicesTotal === 13, String(summary.devicesTotal));
      assert.equal(summary.succeeded + summary.unchanged, summary.devicesTotal);
      assert.deepEqual(summary.failed, []);
    } finally {
      emulator.setProfile('calm');
    }
  });

  it('pause, resume and status explain when there is nothing to act on (exit 1)', async () => {
    for (const command of ['pause', 'resume']) {
      const result = await runCli([command], env);
      assert.equal(result.code, 1, show(result));
      assert.match(result.stderr, new RegExp(`no sync of hub ${HUB} is running: nothing to ${command}`));
    }
    const status = await runCli(['status', '--hub', 'hub-never-synced'], env);
    assert.equal(status.code, 1, show(status));
    assert.match(status.stderr, /no sync of hub hub-never-synced found/);
  });
});

describe('policy-sync preflight and setup-rbac', () => {
  it('preflight: exit 3 naming what is missing; setup-rbac grants it (idempotent); then exit 0', async () => {
    const bare = await startEmulator({ devices: 1, profile: 'calm', grantOnStart: false });
    try {
      const bareEnv = { ...bare.env, TEMPORAL_ADDRESS: temporal.address };
      const missing = await runCli(['preflight', '--json'], bareEnv);
      assert.equal(missing.code, 3, show(missing));
      const report = stdoutJson<{ granted: boolean; missing: string[]; rolesAssigned: string[] }>(missing);
      assert.equal(report.granted, false);
      assert.ok(
        report.missing.includes('Microsoft.Devices/IotHubs/securityPolicies/write'),
        report.missing.join(),
      );
      const text = await runCli(['preflight'], bareEnv);
      assert.equal(text.code, 3, show(text));
      assert.match(text.stdout, /Permissions missing on hub hub-emulated/);
      assert.match(text.stdout, /policy-sync setup-rbac/);

      const noPrincipal = await runCli(['setup-rbac'], { ...bareEnv, SERVICE_PRINCIPAL_OBJECT_ID: '' });
      assert.equal(noPrincipal.code, 2, show(noPrincipal));
      assert.match(noPrincipal.stderr, /--principal-id/);

      const setup = await runCli(['setup-rbac', '--json', '--timeout', '2m'], bareEnv);
      assert.equal(setup.code, 0, show(setup));
      const first = stdoutJson<{ role: string; assignment: string; permissions: { granted: boolean } }>(
        setup,
      );
      assert.deepEqual(
        [first.role, first.assignment, first.permissions.granted],
        ['created', 'created', true],
      );
      const again = stdoutJson<{ role: string; assignment: string }>(
        await runCli(['setup-rbac', '--json'], bareEnv),
      );
      assert.deepEqual([again.role, again.assignment], ['unchanged', 'unchanged']);

      const granted = await runCli(['preflight', '--wait', '--timeout', '1m'], bareEnv);
      assert.equal(granted.code, 0, show(granted));
      assert.match(granted.stdout, /Every permission the arm target needs is effective/);
      assert.match(granted.stdout, /IoT Security Policy Manager/);
    } finally {
      await bare.close();
    }
  });
});

describe('policy-sync worker and emulator (long-running commands)', () => {
  it('worker: serves a sync and Prometheus metrics, then stops gracefully on SIGTERM', async () => {
    const taskQueue = `${temporal.taskQueue}-subprocess`;
    const metricsPort = await freePort();
    const workerEnv = { ...env, TEMPORAL_TASK_QUEUE: taskQueue, WORKER_METRICS_PORT: String(metricsPort) };
    const running = startCli(['worker'], workerEnv);
    try {
      await running.waitFor(/Worker started/, 180_000);
      const result = await runCli(
        ['run', '--wait', '--json', '--devices', 'device-0001,device-0002'],
        workerEnv,
      );
      assert.equal(result.code, 0, show(result));
      assert.equal(stdoutJson<RunSummary>(result).devicesTotal, 2);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /temporal_workflow_completed/);
      assert.match(metrics, /temporal_activity_execution_latency/);
    } finally {
      running.child.kill('SIGTERM');
    }
    const exited = await running.exited;
    assert.equal(exited.code, 0, show(exited));
    assert.match(exited.stderr, /Worker stopped/);
    assert.doesNotMatch(
      exited.stderr,
      new RegExp(env.AZURE_CLIENT_SECRET!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    );
  });

  it('emulator: prints the export lines, stops on SIGINT', async () => {
    const running = startCli(['emulator', '--port', '0', '--devices', '5', '--profile', 'seed']);
    await running.waitFor(/export NODE_EXTRA_CA_CERTS=/, 60_000);
    assert.match(running.stdout(), /^export IOT_HUB_NAME='hub-emulated'$/m);
    assert.match(running.stdout(), /^export AZURE_AUTHORITY_HOST='https:\/\/127\.0\.0\.1:\d+'$/m);
    running.child.kill('SIGINT');
    const exited = await running.exited;
    assert.equal(exited.code, 0, show(exited));
  });
});

void describe('manual workflow ids', () => {
  void it('two manual runs of one hub started in the same millisecond both start, under distinct ids', async () => {
    // No worker polls this queue: the runs only have to start.
    const config = loadConfig({ ...env, TEMPORAL_TASK_QUEUE: `${temporal.taskQueue}-nobody` });
    const sameMillisecond = new Date('2026-01-01T00:00:00.000Z');
    let calls = 0;
    const clock = () => (++calls <= 2 ? sameMillisecond : new Date());
    const handles = await Promise.all([
      startManualSync(temporal.client, config, syncInput(config), clock),
      startManualSync(temporal.client, config, syncInput(config), clock),
    ]);
    try {
      const ids = handles.map((handle) => handle.workflowId);
      assert.equal(new Set(ids).size, 2, ids.join(', '));
      assert.ok(
        ids.includes(`iot-policy-sync-${config.hub.name}-manual-2026-01-01T000000.000Z`),
        ids.join(', '),
      );
      assert.ok(calls >= 3, 'the later start took a new time');
    } finally {
      await Promise.all(handles.map((handle) => handle.terminate('test over')));
    }
  });
});
