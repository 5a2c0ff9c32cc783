/**
 * A permission that is never granted (reliability: a permission missing for good): the
 * emulator's principal has no role assignment at all. Preflight waits, times out, and the run fails with
 * PermissionsNotPropagated naming the missing actions; nothing is written (emulator state and request log);
 * one alert is raised, recorded and POSTed to ALERT_WEBHOOK_URL.
 *
 * Through the CLI as well: `policy-sync run --wait --json` exits 1 (run's documented "the sync failed"),
 * with the failure type on stdout; `policy-sync preflight` exits 3 (permissions missing). `run` has no flag
 * for the preflight timeout (30 minutes), so the worker serving the CLI carries a test interceptor that
 * gives runs started without preflight options a 3 s one (short-preflight-interceptor.ts).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Emulator } from '../../src/emulator';
import { createLogger } from '../../src/logger';
import { createPolicySyncWorker } from '../../src/worker';
import { loadConfig } from '../../src/config';
import { alertsQuery, metricsQuery } from '../../src/workflows/messages';
import type { AlertRecord } from '../../src/workflows/types';
import { runCli, show, stdoutJson } from '../cli/helpers';
import { connectTestTemporal, eventually, type TestTemporal } from '../support/temporal';
import { recordEmulatorSecrets, recordLogs } from './secrets';
import {
  captureSdkLogs,
  mutatingRequests,
  productEnv,
  report,
  startInProcessWorker,
  startSync,
  startTrustedEmulator,
  uniqueHub,
  type InProcessWorker,
} from './support';

const DEVICES = 20;
let temporal: TestTemporal;
let emulator: Emulator;
let worker: InProcessWorker;
let webhook: Server;
let webhookUrl: string;
const alertsPosted: Record<string, unknown>[] = [];
let sdkLogs: string[];

before(async () => {
  temporal = await connectTestTemporal();
  sdkLogs = captureSdkLogs();
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      alertsPosted.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const address = webhook.address();
  webhookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/alerts`;
  emulator = await startTrustedEmulator({
    devices: DEVICES,
    profile: 'calm',
    hubName: uniqueHub('hub-e2e-noperm'),
    grantOnStart: false,
  });
  worker = await startInProcessWorker(
    temporal,
    productEnv(emulator, temporal, `${temporal.taskQueue}-noperm`, { ALERT_WEBHOOK_URL: webhookUrl }),
  );
});

after(async () => {
  await worker?.stop();
  if (emulator) {
    recordEmulatorSecrets('e2e-permission-missing', emulator);
    await emulator.close();
  }
  recordLogs('e2e-permission-missing-logs', [...(worker?.logs ?? []), ...(sdkLogs ?? [])].join('\n'));
  await new Promise((resolve) => webhook?.close(resolve));
  await temporal?.close();
});

function assertNothingWritten(): void {
  const state = emulator.state();
  const written = Object.entries(state.devices).filter(
    ([, d]) => d.writes > 0 || d.policy !== null || d.twinPolicy !== null,
  );
  assert.deepEqual(written, [], 'no device written');
  assert.deepEqual(mutatingRequests(emulator), [], 'no PUT, PATCH, POST or DELETE reached the emulator');
  assert.equal(
    emulator.requestLog().filter((r) => /securityPolicies|\/twins\//.test(r.path)).length,
    0,
    'no device was even read',
  );
}

void describe('a permission never granted', () => {
  it('fails the run with PermissionsNotPropagated after the preflight timeout, writes nothing, alerts once', async () => {
    const started = Date.now();
    const handle = await startSync(temporal.client, worker.config, {
      preflight: { firstRecheckInMs: 200, maxRecheckInMs: 800, timeoutInMs: 2_500 },
    });
    const error = await handle.result().then(
      () => assert.fail('the run should have failed'),
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    assert.ok(error instanceof WorkflowFailedError, String(error));
    const cause = error.cause;
    assert.ok(cause instanceof ApplicationFailure, String(cause));
    assert.equal(cause.type, 'PermissionsNotPropagated');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /Microsoft\.Devices\/IotHubs\/securityPolicies\/write/);
    assert.ok(elapsed >= 2_500, `failed only after the timeout (${elapsed} ms)`);

    assertNothingWritten();
    const permissionChecks = emulator
      .requestLog()
      .filter((r) => /\/permissions$/.test(r.path.split('?')[0]!));
    assert.ok(
      permissionChecks.length >= 3,
      `preflight checked again with backoff (${permissionChecks.length} checks)`,
    );

    // One alert: recorded by the run (queries answer on the closed run), logged once, POSTed once.
    const alerts: AlertRecord[] = await handle.query(alertsQuery);
    assert.deepEqual(
      alerts.map((a) => a.kind),
      ['PermissionsNotPropagated'],
    );
    assert.match(alerts[0]!.message, /securityPolicies\/write/);
    const metrics = await handle.query(metricsQuery);
    assert.equal(metrics.phase, 'failed');
    assert.equal(metrics.devicesDone, 0);
    await eventually(
      'the webhook POST',
      async () => alertsPosted.length,
      (n) => n >= 1,
      10_000,
    );
    assert.equal(alertsPosted.length, 1, JSON.stringify(alertsPosted));
    assert.equal(alertsPosted[0]!.kind, 'PermissionsNotPropagated');
    assert.equal(alertsPosted[0]!.workflowId, handle.workflowId);
    assert.equal(worker.logs.filter((l) => l.includes('ALERT PermissionsNotPropagated')).length, 1);
    report(
      'e2e no-permission',
      `run failed after ${elapsed} ms, ${permissionChecks.length} permission checks`,
    );
  });

  it('policy-sync run --wait --json exits 1 with the failure on stdout; preflight exits 3', async () => {
    // A worker whose workflow code gives CLI-started runs a 3 s preflight (see the file comment).
    const bundleStarted = Date.now();
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      workflowInterceptorModules: [require.resolve('./short-preflight-interceptor')],
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const bundleDir = mkdtempSync(join(tmpdir(), 'policy-sync-e2e-bundle-'));
    const bundlePath = join(bundleDir, 'bundle.js');
    writeFileSync(bundlePath, code);
    const bundleMs = Date.now() - bundleStarted;
    const env = productEnv(emulator, temporal, `${temporal.taskQueue}-noperm-cli`, {
      ALERT_WEBHOOK_URL: webhookUrl,
    });
    const logs: string[] = [];
    const cliWorker = await createPolicySyncWorker(loadConfig(env), {
      connection: temporal.nativeConnection,
      workflowBundlePath: bundlePath,
      logger: createLogger({ format: 'json', level: 'DEBUG', write: (line) => logs.push(line) }),
      shutdownGraceTimeInMs: 2_000,
    });
    const running = cliWorker.run();
    const before = alertsPosted.length;
    try {
      const run = await runCli(['run', '--wait', '--json'], env, 60_000);
      assert.equal(run.code, 3, `exit 3: permissions missing\n${show(run)}`);
      const out = stdoutJson<{
        workflowId: string;
        status: string;
        failure: { type: string; message: string };
      }>(run);
      assert.equal(out.status, 'FAILED');
      assert.equal(out.failure.type, 'PermissionsNotPropagated');
      assert.match(out.failure.message, /securityPolicies\/write/);
      assert.match(out.workflowId, new RegExp(`^iot-policy-sync-${emulator.hub.name}-manual-`));
      assertNothingWritten();
      await eventually(
        'the webhook POST',
        async () => alertsPosted.length,
        (n) => n > before,
        10_000,
      );
      assert.equal(alertsPosted.length, before + 1, 'one more alert, for the CLI’s run');

      const preflight = await runCli(['preflight', '--json'], env, 60_000);
      assert.equal(preflight.code, 3, show(preflight));
      assert.match(preflight.stdout, /securityPolicies\/write/);
      recordLogs(
        'e2e-permission-missing-cli',
        `${run.stdout}\n${run.stderr}\n${preflight.stdout}\n${preflight.stderr}\n${logs.join('\n')}`,
      );
      report(
        'e2e no-permission',
        `CLI run --wait exit ${run.code}, preflight exit ${preflight.code}; interceptor bundle ${bundleMs} ms`,
      );
    } finally {
      cliWorker.shutdown();
      await running;
      rmSync(bundleDir, { recursive: true, force: true });
    }
  });
});
