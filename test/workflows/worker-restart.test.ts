/**
 * The worker dies (SIGKILL) in the middle of a sync; a new worker picks the sync up from its history and
 * finishes it with no device missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { policySyncWorkflow } from '../../src/workflows';
import { metricsQuery } from '../../src/workflows/messages';
import { iotHubSearchAttribute } from '../../src/workflows/search-attributes';
import {
  connectTestTemporal,
  createTestWorker,
  eventually,
  recordHistoryFixture,
  workflowBundlePath,
  type TestTemporal,
} from '../support/temporal';
import { deviceIds, FakeAzure } from './fake-azure';

const DEVICES = 200;
let env: TestTemporal;

before(async () => {
  env = await connectTestTemporal();
});
after(async () => {
  await env?.close();
});

void it('finishes the sync on a new worker after the first one is killed', { timeout: 180_000 }, async () => {
  const bundlePath = await workflowBundlePath();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(__dirname, 'worker-process.ts'),
      env.address,
      env.taskQueue,
      bundlePath,
      String(DEVICES),
    ],
    { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const writtenByFirst = new Set<string>();
  let ready = false;
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('wrote ')) writtenByFirst.add(line.slice('wrote '.length));
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await eventually('first worker ready', async () => ready, Boolean, 120_000);
    const handle = await env.client.workflow.start<typeof policySyncWorkflow>('policySyncWorkflow', {
      taskQueue: env.taskQueue,
      workflowId: `iot-policy-sync-restart-manual-${randomUUID()}`,
      typedSearchAttributes: [{ key: iotHubSearchAttribute, value: 'hub-restart' }],
      args: [
        {
          hub: 'hub-restart',
          target: 'arm',
          batchSize: 10,
          maxConcurrentBatches: 3,
          reportEvery: 5,
          // Writes lost with the worker are retried after their start-to-close timeout.
          retry: { startToCloseTimeoutInMs: 2_000, initialIntervalInMs: 100, maximumIntervalInMs: 500 },
        },
      ],
    });
    const atKill = await eventually(
      'a third of the devices done',
      () => handle.query(metricsQuery),
      (m) => m.devicesDone >= DEVICES / 3,
      120_000,
    );
    child.kill('SIGKILL');
    await exited;
    assert.ok(atKill.devicesDone < DEVICES, 'killed mid-run');

    const fake = new FakeAzure(deviceIds(DEVICES));
    const worker = await createTestWorker(env, { activities: fake.activities() });
    const summary = await worker.runUntil(handle.result());

    assert.equal(summary.devicesTotal, DEVICES);
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.succeeded + summary.unchanged, DEVICES);
    const written = new Set([...writtenByFirst, ...fake.writes.keys()]);
    assert.equal(written.size, DEVICES, 'every device written by one worker or the other');
    assert.ok(writtenByFirst.size > 0 && fake.writes.size > 0, 'both workers wrote');
    await recordHistoryFixture(handle, 'policy-sync-worker-restart');
    process.stderr.write(
      `[restart] killed at ${atKill.devicesDone}/${DEVICES} done; first worker wrote ${writtenByFirst.size}, ` +
        `second ${fake.writes.size} (${fake.applyCalls.length} calls); summary succeeded ${summary.succeeded}, ` +
        `unchanged ${summary.unchanged}\n`,
    );
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
