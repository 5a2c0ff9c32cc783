/**
 * Secrets (reliability; docs/interface.md "Nothing secret in any of the above"): every workflow history
 * on the run's dev server and every log the suite captured are searched for the client secret and every
 * access token the emulators issued. None may be found.
 *
 * The search covers what the other e2e/chaos files of this run produced (their emulators' secrets and their
 * logs are in the run's ledger, see test/e2e/secrets.ts) and a sync of its own that makes many tokens: the
 * worker as a child process (`policy-sync worker`, stdout and stderr captured), a role assignment still
 * propagating (403s retire tokens), CAE claims challenges (revoked tokens), 503s, alerts POSTed to a
 * webhook, and the CLI's `run --wait --json` and `status --json`.
 *
 * So that "nothing found" means something: the histories and the token list must be non-empty, and a
 * canary — a token-shaped string put into a workflow's input — must be found by the same search.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { runCli, show, startCli, stdoutJson, type RunningCli } from '../cli/helpers';
import { connectTestTemporal, type TestTemporal } from '../support/temporal';
import {
  describeLeaks,
  historiesOf,
  readLedger,
  recordEmulatorSecrets,
  recordLogs,
  SecretScanner,
} from '../e2e/secrets';
import {
  emulatorDesired,
  fleetMismatches,
  productEnv,
  report,
  startTrustedEmulator,
  uniqueHub,
} from '../e2e/support';
import type { RunSummary } from '../../src/workflows/types';

const DEVICES = 60;

let temporal: TestTemporal;
let emulator: Emulator;
let worker: RunningCli | undefined;
let webhook: Server;
const captured: { name: string; text: string }[] = [];

before(async () => {
  temporal = await connectTestTemporal();
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      captured.push({ name: 'alert webhook', text: `${JSON.stringify(req.headers)}\n${body}` });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  emulator = await startTrustedEmulator({
    devices: DEVICES,
    profile: 'seed',
    seed: 3,
    hubName: uniqueHub('hub-secrets'),
    // The seed's propagation, shorter, plus CAE claims challenges and a few 503s: many tokens, quickly.
    faults: {
      propagation: { delayMs: 1_000, flakyWindowMs: 5_000, flakyRatio: 0.6 },
      transient: { unauthorizedChallengeRatio: 0.05, error503Ratio: 0.02, retryAfterSeconds: 1 },
    },
  });
});

after(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }
  if (emulator) {
    recordEmulatorSecrets('chaos-secrets', emulator);
    await emulator.close();
  }
  recordLogs('chaos-secrets', captured.map((c) => `--- ${c.name}\n${c.text}`).join('\n'));
  await new Promise((resolve) => webhook?.close(resolve));
  await temporal?.close();
});

void it('finds neither the client secret nor any issued token in any history or log of the run', async () => {
  const address = webhook.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const env = productEnv(emulator, temporal, `${temporal.taskQueue}-secrets`, {
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/alerts`,
  });

  // A sync of our own: the worker as users run it, the CLI as users run it.
  worker = startCli(['worker'], env);
  await worker.waitFor(/Worker started/, 120_000);
  emulator.reset(); // the role assignment is "just created" now, not when the emulator started
  const run = await runCli(['run', '--wait', '--json'], env, 300_000);
  captured.push(
    { name: 'policy-sync run stdout', text: run.stdout },
    { name: 'policy-sync run stderr', text: run.stderr },
  );
  assert.ok(run.code === 0 || run.code === 1, show(run));
  const summary = stdoutJson<RunSummary>(run);
  assert.equal(summary.devicesTotal, DEVICES, show(run));
  if (summary.failed.length === 0)
    assert.deepEqual(fleetMismatches(emulator.state(), emulatorDesired(emulator), 'arm'), []);
  const status = await runCli(['status', '--json', '--workflow-id', summary.workflowId], env, 60_000);
  captured.push({ name: 'policy-sync status', text: `${status.stdout}\n${status.stderr}` });
  assert.equal(status.code, 0, show(status));
  worker.child.kill('SIGTERM');
  const stopped = await worker.exited;
  captured.push(
    { name: 'worker stdout', text: stopped.stdout },
    { name: 'worker stderr', text: stopped.stderr },
  );
  assert.ok(stopped.stderr.includes('Worker stopped'), 'the worker shut down gracefully');

  // The canary: a token-shaped string in a workflow input must be found by the very same search.
  const canary = `emu.${randomBytes(32).toString('base64url')}`;
  const canaryHandle = await temporal.client.workflow.start('policySyncWorkflow', {
    taskQueue: `${temporal.taskQueue}-no-worker`,
    workflowId: `secrets-canary-${Date.now()}`,
    args: [{ hub: 'canary-hub', target: 'arm', deviceIds: [`device-${canary}`] }],
  });
  await canaryHandle.terminate('canary for the secret scan');

  // Every secret of the run: this file's emulator and every other file's (the ledger).
  const scanner = new SecretScanner().addEmulator('secrets', {
    clientSecret: emulator.env.AZURE_CLIENT_SECRET!,
    tokens: emulator.issuedTokens(),
  });
  const ledger = readLedger();
  for (const e of ledger.emulators) if (e.name !== 'chaos-secrets') scanner.addEmulator(e.name, e);
  const ownTokens = emulator.issuedTokens().length;
  assert.ok(
    ownTokens >= 3,
    `403s and claims challenges made new tokens (${ownTokens}); authErrors ${summary.authErrors}, ` +
      `faults ${JSON.stringify(emulator.state().faults)}, requests ${JSON.stringify(emulator.state().requests)}`,
  );
  assert.ok(emulator.state().faults.claimsChallenges > 0, 'tokens were revoked by claims challenges');

  const fetchStarted = Date.now();
  const histories = await historiesOf(temporal.client);
  const fetchMs = Date.now() - fetchStarted;
  const events = histories.reduce((n, h) => n + h.events, 0);
  assert.ok(histories.length > DEVICES / 50, `histories on the server: ${histories.length}`);
  assert.ok(events > 0);
  assert.ok(histories.some((h) => h.workflowId === summary.workflowId));

  const canaryScanner = new SecretScanner().add('canary', canary);
  const canaryFound = histories.flatMap((h) => canaryScanner.scan(h.workflowId, h.text));
  assert.deepEqual(
    canaryFound.map((l) => l.source),
    [canaryHandle.workflowId],
    'the search finds a token in a payload (and only where it was put)',
  );

  const logs = [...captured, ...ledger.logs.map((l) => ({ name: `ledger ${l.name}`, text: l.text }))];
  assert.ok(
    logs.some((l) => l.name === 'worker stderr' && l.text.length > 1_000),
    'worker logs captured',
  );
  // Every line the worker would have to redact was there: its own tokens passed through it.
  assert.ok(emulator.requestLog().some((r) => r.token !== undefined));

  const started = Date.now();
  const leaks = [
    ...histories.flatMap((h) => scanner.scan(`history ${h.workflowId} (${h.runId})`, h.text)),
    ...logs.flatMap((l) => scanner.scan(l.name, l.text)),
  ];
  const scanMs = Date.now() - started;
  assert.deepEqual(leaks, [], describeLeaks(leaks));

  const historyBytes = histories.reduce((n, h) => n + h.text.length, 0);
  const logBytes = logs.reduce((n, l) => n + l.text.length, 0);
  report(
    'chaos secrets',
    `${scanner.size} secrets (${ledger.emulators.length} emulators in the ledger; ${ownTokens} tokens of our own) ` +
      `searched in ${histories.length} histories (${events} events, ${(historyBytes / 2 ** 20).toFixed(1)} MiB of text) ` +
      `and ${logs.length} logs (${(logBytes / 2 ** 20).toFixed(1)} MiB): fetched in ${fetchMs} ms, searched in ${scanMs} ms: ` +
      `none found; canary found. ` +
      `Own sync: ${summary.succeeded} succeeded, ${summary.failed.length} failed, authErrors ${summary.authErrors}, ` +
      `alerts ${summary.alerts.length}`,
  );
});
