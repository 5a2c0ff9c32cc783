/**
 * 10,000 devices end to end (the README's scale figure): the emulator in the calm profile,
 * the product's activities over HTTPS, the product's worker in-process. The sync completes, every device
 * holds exactly its document, no device is written twice, and every run of the parent's continue-as-new
 * chain stays under 10,000 history events. Prints devices/s (the target: ≥ 200 on a 2-core machine).
 *
 * SCALE_DEVICES, SCALE_MAX_CONCURRENT_BATCHES, SCALE_CONTINUE_AS_NEW_AFTER_EVENTS and
 * WORKER_MAX_CONCURRENT_ACTIVITIES change the run.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SYNC_DEFAULTS } from '../../src/workflows/options';
import { continueAsNewChain } from '../support/temporal';
import { useEmulatorSuite } from '../e2e/suite';
import {
  emulatorDesired,
  fleetMismatches,
  nonDecreasing,
  observeRun,
  report,
  startSync,
  uniqueHub,
} from '../e2e/support';

const DEVICES = Number(process.env.SCALE_DEVICES ?? 10_000);
const MAX_CONCURRENT_BATCHES = Number(
  process.env.SCALE_MAX_CONCURRENT_BATCHES ?? SYNC_DEFAULTS.maxConcurrentBatches,
);
const ACTIVITY_SLOTS = process.env.WORKER_MAX_CONCURRENT_ACTIVITIES ?? '400';
const EVENT_LIMIT = 10_000;
/**
 * Lower than the default (4,000): 10,000 devices fit one parent run of ~2,500 events by default, and this test
 * is also the one that carries a large sync across several continue-as-new runs.
 */
const CONTINUE_AS_NEW_AFTER_EVENTS = Number(process.env.SCALE_CONTINUE_AS_NEW_AFTER_EVENTS ?? 1_000);

const suite = useEmulatorSuite('chaos');

void it(`syncs ${DEVICES} devices end to end, every parent run under ${EVENT_LIMIT} events`, async () => {
  const { emulator, worker } = await suite.world(
    'scale',
    { devices: DEVICES, profile: 'calm', hubName: uniqueHub('hub-scale') },
    { env: { WORKER_MAX_CONCURRENT_ACTIVITIES: ACTIVITY_SLOTS }, logLevel: 'INFO' },
  );
  const memoryBefore = process.memoryUsage().rss;
  let peakRss = memoryBefore;
  const memory = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  const handle = await startSync(suite.temporal.client, worker.config, {
    maxConcurrentBatches: MAX_CONCURRENT_BATCHES,
    continueAsNewAfterEvents: CONTINUE_AS_NEW_AFTER_EVENTS,
  });
  const run = await observeRun(handle, 1_000).finally(() => clearInterval(memory));
  assert.equal(run.error, undefined, String(run.error));
  const summary = run.summary!;
  const seconds = run.wallMs / 1000;

  assert.equal(summary.devicesTotal, DEVICES);
  assert.deepEqual(summary.failed, []);
  assert.equal(summary.succeeded, DEVICES);
  assert.equal(summary.authErrors, 0);

  const state = emulator.state();
  assert.deepEqual(fleetMismatches(state, emulatorDesired(emulator), 'arm'), []);
  const maxWrites = Math.max(...Object.values(state.devices).map((d) => d.armWrites));
  assert.equal(maxWrites, 1, 'no device written twice');

  // Every run of the chain: from the first run id through continue-as-new, and as the server lists them.
  const runs = await continueAsNewChain(suite.temporal.client, handle.workflowId, handle.firstExecutionRunId);
  const listed: string[] = [];
  for await (const info of suite.temporal.client.workflow.list({
    query: `WorkflowId = '${handle.workflowId}'`,
  }))
    listed.push(info.runId);
  assert.deepEqual(new Set(listed), new Set(runs.map((r) => r.runId)), 'the chain is every run of the id');
  if (DEVICES >= 10_000) assert.ok(runs.length > 1, 'a fleet this size continues as new');
  for (const r of runs) assert.ok(r.events < EVENT_LIMIT, `run ${r.runId}: ${r.events} events`);
  assert.ok(runs.slice(0, -1).every((r) => r.continuedAsNew));

  assert.ok(nonDecreasing(run.samples, 'devicesDone'), 'devicesDone never decreases across runs');
  assert.ok(nonDecreasing(run.samples, 'successCount'));

  report(
    'chaos scale',
    `${DEVICES} devices, batch ${SYNC_DEFAULTS.batchSize} × ${MAX_CONCURRENT_BATCHES}, ${ACTIVITY_SLOTS} activity slots: ` +
      `${seconds.toFixed(1)} s wall, ${(DEVICES / seconds).toFixed(0)} devices/s end to end ` +
      `(workflow durationMs ${summary.durationMs}); ${runs.length} parent runs, events per run ` +
      `${runs.map((r) => r.events).join(', ')} (max ${Math.max(...runs.map((r) => r.events))}); ` +
      `requests ${JSON.stringify(state.requests)}; test process peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
});
