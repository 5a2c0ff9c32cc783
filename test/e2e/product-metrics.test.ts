/**
 * The product metrics as an operator scrapes them: `policy-sync worker` in a child process (its own Temporal
 * runtime, with the Prometheus endpoint on a free loopback port), a sync of the seed's world against the emulator,
 * then one GET /metrics. The counters agree with the run's summary and with what the emulator answered.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ProductMetric } from '../../src/activities/product-metrics';
import { loadConfig } from '../../src/config';
import { freePort } from '../../src/devserver/dev-server';
import type { Emulator } from '../../src/emulator';
import { startCli, type RunningCli } from '../cli/helpers';
import { scrape, sumOf, type PrometheusSample } from '../support/prometheus';
import { connectTestTemporal, eventually, type TestTemporal } from '../support/temporal';
import { recordEmulatorSecrets, recordLogs } from './secrets';
import {
  productEnv,
  report,
  securityPolicy403s,
  startSync,
  startTrustedEmulator,
  uniqueHub,
} from './support';

const DEVICES = 150;

let temporal: TestTemporal;
let emulator: Emulator;
let worker: RunningCli | undefined;

before(async () => {
  temporal = await connectTestTemporal();
  emulator = await startTrustedEmulator({
    devices: DEVICES,
    profile: 'seed',
    seed: 5,
    hubName: uniqueHub('hub-metrics'),
  });
});

after(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGKILL');
    const exited = await worker.exited;
    recordLogs('e2e-product-metrics-worker', `${exited.stdout}\n${exited.stderr}`);
  }
  if (emulator) {
    recordEmulatorSecrets('e2e-product-metrics', emulator);
    await emulator.close();
  }
  await temporal?.close();
});

void it('the worker serves write outcomes, 403s, throttling and alerts that match the run and the emulator', async () => {
  const port = await freePort();
  const env = productEnv(emulator, temporal, `${temporal.taskQueue}-metrics`, {
    NODE_EXTRA_CA_CERTS: emulator.caBundlePath,
    WORKER_METRICS_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(port),
  });
  worker = startCli(['worker'], env);
  await worker.waitFor(/Worker started/, 180_000);
  const url = `http://127.0.0.1:${port}/metrics`;
  assert.match(
    worker.stderr(),
    new RegExp(`Prometheus metrics exposed.*http://127\\.0\\.0\\.1:${port}/metrics`),
  );

  const config = loadConfig(env);
  const handle = await startSync(temporal.client, config);
  const summary = await handle.result();
  assert.equal(summary.succeeded, DEVICES, 'a fresh hub: every device written');
  assert.deepEqual(summary.failed, []);
  assert.ok(summary.authErrors > 0, 'the seed profile refuses calls while the role propagates');

  const tags = { hub: config.hub.name, target: 'arm' };
  // Activities record as they finish; the sync's result can reach us before the exporter has them all.
  const samples: PrometheusSample[] = await eventually(
    'the product metrics',
    () => scrape(url),
    (s) => sumOf(s, ProductMetric.writes, { ...tags, outcome: 'succeeded' }) >= DEVICES,
    15_000,
  );
  const writes = (labels: Record<string, string>) =>
    sumOf(samples, ProductMetric.writes, { ...tags, ...labels });

  assert.equal(writes({ outcome: 'succeeded' }), DEVICES, 'succeeded = devices written');
  assert.equal(writes({ outcome: 'unchanged' }), 0);
  assert.equal(writes({ outcome: 'failed' }), 0);

  const refused = securityPolicy403s(emulator);
  const forbidden = sumOf(samples, ProductMetric.forbiddenResponses, tags);
  assert.equal(forbidden, refused, "403s counted = the emulator's 403s on securityPolicies");
  assert.equal(forbidden, summary.authErrors, '403s counted = the summary’s authErrors');
  // Every 403 ended an attempt that was retried (every device ended in sync), and nothing else was retried.
  assert.equal(writes({ outcome: 'retrying', code: 'AuthorizationFailed' }), refused);
  assert.equal(writes({ outcome: 'retrying' }), refused);

  const throttledAnswers = emulator
    .requestLog()
    .filter((r) => (r.status === 429 || r.status === 503) && /\/securityPolicies\//i.test(r.path)).length;
  assert.equal(sumOf(samples, ProductMetric.throttledResponses, tags), throttledAnswers);
  assert.equal(throttledAnswers, summary.throttled);

  const kinds = summary.alerts.map((a) => a.kind);
  assert.ok(
    kinds.includes('AuthErrorRate'),
    `the 403 storm raises AuthErrorRate (alerts: ${kinds.join(', ')})`,
  );
  for (const kind of new Set(kinds))
    assert.equal(
      sumOf(samples, ProductMetric.alerts, { hub: config.hub.name, kind }),
      kinds.filter((k) => k === kind).length,
      `alerts of kind ${kind}`,
    );
  assert.equal(
    sumOf(samples, ProductMetric.alerts, { hub: config.hub.name }),
    kinds.length,
    'no other alerts',
  );

  // The SDK's own metrics are on the same endpoint.
  assert.ok(
    samples.some((s) => s.name.startsWith('temporal_activity_execution')),
    'the SDK metrics are served alongside',
  );

  worker.child.kill('SIGTERM');
  const exited = await worker.exited;
  recordLogs('e2e-product-metrics-worker', `${exited.stdout}\n${exited.stderr}`);
  assert.equal(exited.code, 0, exited.stderr.slice(-2000));

  report(
    'e2e metrics',
    `${DEVICES} devices: succeeded ${writes({ outcome: 'succeeded' })}, retrying ${writes({ outcome: 'retrying' })}, ` +
      `403s ${forbidden} (emulator ${refused}), throttled ${throttledAnswers}, alerts ${kinds.join(', ')}`,
  );
});
