/**
 * Kill -9 (reliability: a worker killed in the middle of a run): a 1,000-device sync with
 * the worker as users run it — `policy-sync worker` in a child process, with the emulator's environment —
 * killed with SIGKILL at three seeded-random points of the run and restarted each time; then the Temporal
 * dev server itself is stopped and started again (same SQLite file, same port) in the middle of the run.
 * The sync completes, every device holds exactly its document, and no device was written more than twice.
 *
 * This file runs its own dev server (with a database file): the run's shared one cannot be restarted.
 * CHAOS_SEED changes the kill points.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { freePort, startDevServer, type DevServer } from '../../src/devserver/dev-server';
import type { Emulator } from '../../src/emulator';
import { metricsQuery } from '../../src/workflows/messages';
import type { RunSummary, SyncMetrics } from '../../src/workflows/types';
import { startCli, type RunningCli } from '../cli/helpers';
import { continueAsNewChain } from '../support/temporal';
import { describeLeaks, historiesOf, recordEmulatorSecrets, recordLogs, SecretScanner } from '../e2e/secrets';
import {
  emulatorDesired,
  fleetMismatches,
  report,
  seededRandom,
  startSync,
  startTrustedEmulator,
  uniqueHub,
  type SyncHandle,
} from '../e2e/support';

const DEVICES = 1_000;
const KILLS = 3;
const SEED = Number(process.env.CHAOS_SEED ?? 20_240_601);
const TASK_QUEUE = 'chaos-worker-kill';

let dir: string;
let server: DevServer;
let port: number;
let client: Client;
let emulator: Emulator;
const workerLogs: string[] = [];
let current: RunningCli | undefined;

async function connect(address: string): Promise<Client> {
  return new Client({ connection: await Connection.connect({ address }), namespace: 'default' });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'policy-sync-chaos-kill-'));
  port = await freePort();
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), port, ui: false });
  client = await connect(server.address);
  emulator = await startTrustedEmulator({
    devices: DEVICES,
    profile: 'calm',
    hubName: uniqueHub('hub-kill'),
  });
});

after(async () => {
  if (current && current.child.exitCode === null && current.child.signalCode === null) {
    current.child.kill('SIGKILL');
    await current.exited;
  }
  await client?.connection.close().catch(() => undefined);
  await server?.stop();
  if (emulator) {
    recordEmulatorSecrets('chaos-worker-kill', emulator);
    await emulator.close();
  }
  recordLogs('chaos-worker-kill-workers', workerLogs.join('\n'));
  rmSync(dir, { recursive: true, force: true });
});

function workerEnv(): NodeJS.ProcessEnv {
  return {
    ...emulator.env,
    NODE_EXTRA_CA_CERTS: emulator.caBundlePath,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
  };
}

/** `policy-sync worker` in a child process; resolves once it polls. */
async function startWorker(): Promise<{ cli: RunningCli; startMs: number }> {
  const started = Date.now();
  const cli = startCli(['worker'], workerEnv());
  void cli.exited.then((result) => workerLogs.push(result.stdout, result.stderr));
  await cli.waitFor(/"Worker started"|Worker started/, 120_000);
  return { cli, startMs: Date.now() - started };
}

async function metrics(handle: SyncHandle): Promise<SyncMetrics | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + 3_000, () => handle.query(metricsQuery));
  } catch {
    return undefined;
  }
}

/** Polls `metrics` until devicesDone reaches `threshold` (or the run is done); the last answer. */
async function progressTo(
  handle: SyncHandle,
  threshold: number,
  timeoutInMs = 240_000,
): Promise<SyncMetrics> {
  const deadline = Date.now() + timeoutInMs;
  let last: SyncMetrics | undefined;
  while (Date.now() < deadline) {
    last = (await metrics(handle)) ?? last;
    if (last && (last.devicesDone >= threshold || last.phase === 'done')) return last;
    await delay(50);
  }
  throw new Error(`no progress to ${threshold} devices; last ${JSON.stringify(last)}`);
}

/** The run's result, waiting through a server restart (the long poll fails while the server is away). */
async function resultOf(handle: SyncHandle): Promise<RunSummary> {
  for (;;) {
    try {
      return await handle.result();
    } catch (error) {
      if (error instanceof WorkflowFailedError) throw error;
      await delay(500);
    }
  }
}

void it(`finishes a ${DEVICES}-device sync through ${KILLS} kill -9s of the worker and a dev server restart`, async () => {
  const random = seededRandom(SEED);
  // Four points spread over the run, each drawn inside its own segment: three kills, then the server restart.
  const segments = [
    [0.05, 0.2],
    [0.25, 0.4],
    [0.45, 0.6],
    [0.65, 0.8],
  ] as const;
  const points = segments.map(([lo, hi]) => Math.round(DEVICES * (lo + random() * (hi - lo))));
  const timeline: string[] = [`seed ${SEED}, points ${points.join(', ')}`];
  const wallStarted = Date.now();

  let worker = await startWorker();
  current = worker.cli;
  timeline.push(`worker 1 up in ${worker.startMs} ms`);
  const config = loadConfig(workerEnv() as Record<string, string>);
  const handle = await startSync(client, config, {
    // An attempt lost with a killed worker is retried after its start-to-close timeout: 5 s instead of 30 s.
    retry: { startToCloseTimeoutInMs: 5_000 },
    // 100 devices in flight instead of 500, so that the four points land in distinct stretches of the run:
    // with the default window a restarted worker finishes 500 devices at once.
    maxConcurrentBatches: 2,
  });

  for (let kill = 1; kill <= KILLS; kill++) {
    const at = await progressTo(handle, points[kill - 1]!);
    assert.ok(at.devicesDone < DEVICES, `kill ${kill} must land mid-run (devicesDone ${at.devicesDone})`);
    const killedAt = Date.now();
    worker.cli.child.kill('SIGKILL');
    const exit = await worker.cli.exited;
    assert.equal(exit.signal, 'SIGKILL');
    worker = await startWorker();
    current = worker.cli;
    const resumed = await progressTo(handle, at.devicesDone + 1);
    timeline.push(
      `kill ${kill} at ${at.devicesDone}/${DEVICES} done (t=${((killedAt - wallStarted) / 1000).toFixed(1)} s); ` +
        `new worker up in ${worker.startMs} ms, progress again after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`,
    );
    void resumed;
  }

  // The dev server goes away and comes back on the same port with the same database; the worker stays.
  const at = await progressTo(handle, points[KILLS]!);
  assert.ok(at.devicesDone < DEVICES, `the server restart must land mid-run (devicesDone ${at.devicesDone})`);
  const stoppedAt = Date.now();
  await server.stop();
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), port, ui: false });
  const downMs = Date.now() - stoppedAt;
  await progressTo(handle, at.devicesDone + 1);
  timeline.push(
    `dev server restarted at ${at.devicesDone}/${DEVICES} done: down ${(downMs / 1000).toFixed(1)} s, ` +
      `progress again after ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s; the worker ${
        worker.cli.child.exitCode === null ? 'stayed up' : `exited (${worker.cli.child.exitCode})`
      }`,
  );
  if (worker.cli.child.exitCode !== null) {
    // A worker that gave up while the server was away is restarted, as a supervisor would.
    worker = await startWorker();
    current = worker.cli;
  }

  const summary = await resultOf(handle);
  const wallMs = Date.now() - wallStarted;

  assert.equal(summary.devicesTotal, DEVICES);
  assert.deepEqual(summary.failed, []);
  assert.equal(summary.succeeded + summary.unchanged, DEVICES);
  const state = emulator.state();
  assert.deepEqual(
    fleetMismatches(state, emulatorDesired(emulator), 'arm'),
    [],
    'every device holds its policy',
  );
  const writes = Object.values(state.devices).map((d) => d.armWrites);
  const histogram = writes.reduce<Record<number, number>>((h, n) => ({ ...h, [n]: (h[n] ?? 0) + 1 }), {});
  assert.ok(Math.max(...writes) <= 2, `no device written more than twice: ${JSON.stringify(histogram)}`);
  assert.ok(Math.min(...writes) >= 1, 'every device written');

  // Nothing secret in this server's histories (parent runs and batches) or in the workers' logs.
  worker.cli.child.kill('SIGTERM');
  await worker.cli.exited;
  const histories = await historiesOf(client);
  assert.ok(histories.length > DEVICES / 50, `histories listed: ${histories.length}`);
  const tokens = emulator.issuedTokens();
  assert.ok(tokens.length >= KILLS + 1, `every worker got its own token (${tokens.length})`);
  const scanner = new SecretScanner().addEmulator('kill', {
    clientSecret: emulator.env.AZURE_CLIENT_SECRET!,
    tokens,
  });
  const leaks = [
    ...histories.flatMap((h) => scanner.scan(`history ${h.workflowId}`, h.text)),
    ...scanner.scan('worker logs', workerLogs.join('\n')),
  ];
  assert.ok(workerLogs.join('').length > 0, 'worker logs captured');
  assert.deepEqual(leaks, [], describeLeaks(leaks));
  const runs = await continueAsNewChain(client, handle.workflowId, handle.firstExecutionRunId);

  timeline.push(
    `done in ${(wallMs / 1000).toFixed(1)} s: succeeded ${summary.succeeded}, unchanged ${summary.unchanged}; ` +
      `writes per device ${JSON.stringify(histogram)}; ${runs.length} parent run(s), ` +
      `events ${runs.map((r) => r.events).join(', ')}; ${histories.length} histories scanned, ${tokens.length} tokens`,
  );
  report('chaos worker-kill', timeline.join('\n  '));
});
