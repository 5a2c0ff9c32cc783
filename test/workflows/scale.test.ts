/**
 * 10,000 devices with instant fake activities and the default window: the sync completes, every device is
 * written once, and every run of the parent's continue-as-new chain stays under 10,000 history events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { policySyncWorkflow } from '../../src/workflows';
import { metricsQuery } from '../../src/workflows/messages';
import { SYNC_DEFAULTS } from '../../src/workflows/options';
import { iotHubSearchAttribute } from '../../src/workflows/search-attributes';
import type { SyncMetrics } from '../../src/workflows/types';
import {
  connectTestTemporal,
  continueAsNewChain,
  createTestWorker,
  type TestTemporal,
} from '../support/temporal';
import { deviceIds, FakeAzure } from './fake-azure';

const DEVICES = Number(process.env.SCALE_TEST_DEVICES ?? 10_000);
let env: TestTemporal;

before(async () => {
  env = await connectTestTemporal();
});
after(async () => {
  await env?.close();
});

void it(
  `syncs ${DEVICES} devices with every parent run under 10,000 events`,
  { timeout: 600_000 },
  async () => {
    const fake = new FakeAzure(deviceIds(DEVICES));
    const worker = await createTestWorker(env, {
      activities: fake.activities(),
      maxConcurrentActivityTaskExecutions: 250,
    });
    const started = Date.now();
    const { summary, handle, samples } = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof policySyncWorkflow>('policySyncWorkflow', {
        taskQueue: env.taskQueue,
        workflowId: `iot-policy-sync-scale-manual-${randomUUID()}`,
        args: [{ hub: 'hub-scale', target: 'arm' }],
        typedSearchAttributes: [{ key: iotHubSearchAttribute, value: 'hub-scale' }],
      });
      const samples: SyncMetrics[] = [];
      const result = handle.result();
      let finished = false;
      void result.finally(() => (finished = true)).catch(() => undefined);
      while (!finished) {
        samples.push(await handle.query(metricsQuery).catch(() => samples[samples.length - 1]!));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      return { summary: await result, handle, samples };
    });
    const seconds = (Date.now() - started) / 1000;

    assert.equal(summary.devicesTotal, DEVICES);
    assert.equal(summary.succeeded, DEVICES);
    assert.deepEqual(summary.failed, []);
    assert.equal(fake.writes.size, DEVICES, 'no device missing');
    assert.equal(fake.applyCalls.length, DEVICES, 'no device written twice');
    const runs = await continueAsNewChain(env.client, handle.workflowId, handle.firstExecutionRunId);
    for (const run of runs) assert.ok(run.events < 10_000, `run ${run.runId}: ${run.events} events`);
    const done = samples.filter(Boolean).map((m) => m.devicesDone);
    assert.ok(
      done.every((d, i) => i === 0 || d >= done[i - 1]!),
      'devicesDone never decreases across runs',
    );

    process.stderr.write(
      `[scale] ${DEVICES} devices, batch ${SYNC_DEFAULTS.batchSize} × ${SYNC_DEFAULTS.maxConcurrentBatches}: ` +
        `${seconds.toFixed(1)} s wall, ${(DEVICES / seconds).toFixed(0)} devices/s; ` +
        `${runs.length} parent runs, events per run ${runs.map((r) => r.events).join(', ')}; ` +
        `workflow durationMs ${summary.durationMs}\n`,
    );
  },
);
