/**
 * The parent under the reconcile-observation patch, with scripted activities (fake-azure.ts): devices the
 * observation finds in sync are counted unchanged without a batch; a bulk read that fails for good falls back
 * to per-device reads; syncs of named devices and list reruns keep the per-device path.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { policySyncWorkflow } from '../../src/workflows';
import { rerunSignal } from '../../src/workflows/messages';
import { iotHubSearchAttribute } from '../../src/workflows/search-attributes';
import type { PolicySyncInput } from '../../src/workflows/types';
import { connectTestTemporal, createTestWorker, type TestTemporal } from '../support/temporal';
import { deviceIds, FakeAzure } from './fake-azure';

const HUB = 'hub-reconcile';
let env: TestTemporal;
let queues = 0;

before(async () => {
  env = await connectTestTemporal();
});
after(async () => {
  await env?.close();
});

async function sync(fake: FakeAzure, input: Partial<PolicySyncInput> = {}, signal?: () => unknown) {
  const taskQueue = `${env.taskQueue}-reconcile-${++queues}`;
  const worker = await createTestWorker(env, { taskQueue, activities: fake.activities() });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof policySyncWorkflow>('policySyncWorkflow', {
      taskQueue,
      workflowId: `iot-policy-sync-${HUB}-manual-${randomUUID()}`,
      args: [{ hub: HUB, target: 'twin', batchSize: 5, maxConcurrentBatches: 2, ...input }],
      typedSearchAttributes: [{ key: iotHubSearchAttribute, value: HUB }],
      workflowExecutionTimeout: '3 minutes',
    });
    if (signal) await handle.signal(rerunSignal, signal() as never);
    return handle.result();
  });
}

void describe('policySyncWorkflow: reconcile, not push', () => {
  void it('batches only the drift; devices in sync are done and unchanged without a write attempt', async () => {
    const fake = new FakeAzure(deviceIds(30));
    for (const id of fake.inventory.slice(0, 26).map((d) => d.deviceId)) fake.writes.set(id, 1);
    const summary = await sync(fake);
    assert.deepEqual(
      fake.applyCalls.map((c) => c.deviceId),
      ['dev-27', 'dev-28', 'dev-29', 'dev-30'],
    );
    assert.deepEqual(
      [summary.devicesTotal, summary.succeeded, summary.unchanged, summary.drifted, summary.observation],
      [30, 4, 26, 4, 'bulk'],
    );
    const syncIds = new Set(fake.observedPageCalls.map((c) => c.syncId));
    assert.equal(syncIds.size, 1, 'every page of the sync judged by one observation');
  });

  void it('a bulk read failing for good falls back to per-device reads and still converges', async () => {
    const fake = new FakeAzure(deviceIds(12));
    fake.observation = 'failing';
    const summary = await sync(fake, { batchSize: 5, maxConcurrentBatches: 1 });
    assert.equal(summary.succeeded, 12);
    assert.equal(summary.observation, 'perDevice');
    assert.equal(summary.drifted, 12, 'each device differed when its write read it');
    assert.equal(fake.observedPageCalls.length, 5, 'the first page tried its 5 attempts, then no more');
  });

  void it('a sync of named devices reads each one (no observation), even those in sync', async () => {
    const fake = new FakeAzure(deviceIds(10));
    for (const d of fake.inventory) fake.writes.set(d.deviceId, 1);
    const summary = await sync(fake, { deviceIds: ['dev-02', 'dev-05'] });
    assert.equal(fake.observedPageCalls.length, 0);
    assert.deepEqual(fake.applyCalls.map((c) => c.deviceId).sort(), ['dev-02', 'dev-05']);
    assert.deepEqual([summary.unchanged, summary.drifted, summary.observation], [2, 0, 'perDevice']);
  });

  void it('a list rerun writes the devices named even when the observation found them in sync', async () => {
    const fake = new FakeAzure(deviceIds(10));
    for (const d of fake.inventory) fake.writes.set(d.deviceId, 1);
    const summary = await sync(fake, {}, () => ({ deviceIds: ['dev-03'] }));
    assert.deepEqual(
      fake.applyCalls.map((c) => c.deviceId),
      ['dev-03'],
    );
    assert.deepEqual([summary.devicesTotal, summary.unchanged], [11, 11], 'the rerun is an extra write');
  });
});
