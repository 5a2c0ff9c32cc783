/**
 * End to end on the real dev server: the product's worker (createPolicySyncWorker, in-process) against the
 * Azure emulator over HTTPS.
 *
 * - The seed's world: 300 devices, the role assignment "just created" (invisible for
 *   3 s, then 60% of calls refused for 15 s). The sync waits in preflight, writes through the 403 storm and
 *   ends with every device holding exactly its document; `metrics` shows the counts growing; every 403 the
 *   emulator answered is counted in authErrors; the AuthErrorRate alert is raised once.
 * - The twin target (public Azure's way): every twin's desired.securityPolicy is the document; a second
 *   sync finds everything unchanged and writes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLeaks, historiesOf, SecretScanner } from './secrets';
import { useEmulatorSuite } from './suite';
import {
  emulatorDesired,
  fleetMismatches,
  mutatingRequests,
  nonDecreasing,
  observeRun,
  report,
  securityPolicy403s,
  startSync,
  uniqueHub,
} from './support';

const suite = useEmulatorSuite('e2e');

void describe('seed profile, arm target, 300 devices', () => {
  const DEVICES = 300;

  it('waits out propagation, writes through the 403s and ends with every device holding its policy', async () => {
    const hub = uniqueHub('hub-e2e-seed');
    const w = await suite.world('seed', { devices: DEVICES, profile: 'seed', seed: 5, hubName: hub });
    try {
      const handle = await startSync(suite.temporal.client, w.worker.config);
      const run = await observeRun(handle, 200);
      assert.equal(run.error, undefined, `the sync failed: ${String(run.error)}`);
      const summary = run.summary!;

      // The result: every device written, none failed, the 403s counted, the alert once.
      assert.equal(summary.devicesTotal, DEVICES);
      assert.deepEqual(summary.failed, []);
      assert.deepEqual(summary.rejected, []);
      assert.equal(summary.succeeded + summary.unchanged, DEVICES);
      assert.equal(summary.succeeded, DEVICES, 'a fresh hub: every device needed a write');
      const refused = securityPolicy403s(w.emulator);
      assert.ok(summary.authErrors > 0, 'the seed profile refuses calls while the role propagates');
      // One attempt of a device stops at its first 403 (on the GET or on the PUT), and its counters reach the
      // result through the attempt's heartbeat details: every 403 answered is one authError, and no other.
      assert.equal(summary.authErrors, refused, '403s answered on securityPolicies = authErrors');
      const state = w.emulator.state();
      // The rest were answered to the bulk list of the collection (the observation), retried like the writes.
      const listRefused = w.emulator
        .requestLog()
        .filter((r) => r.status === 403 && /\/securityPolicies$/i.test(r.path)).length;
      assert.equal(
        state.requests['403'] ?? 0,
        refused + listRefused,
        'every 403 was on a securityPolicies call',
      );
      assert.deepEqual(
        summary.alerts.map((a) => a.kind),
        ['AuthErrorRate'],
        'exactly one alert, AuthErrorRate',
      );
      const alertLines = w.worker.logs.filter((line) => line.includes('ALERT AuthErrorRate'));
      assert.equal(alertLines.length, 1, 'the alert was sent (and logged) once');

      // The emulator: every device holds exactly its document from POLICIES_FILE.
      assert.deepEqual(fleetMismatches(state, emulatorDesired(w.emulator), 'arm'), []);
      const writes = Object.values(state.devices).map((d) => d.armWrites);
      assert.ok(
        writes.every((n) => n === 1),
        `one PUT per device (max ${Math.max(...writes)})`,
      );

      // The metrics query during the run: counts grow, never shrink, several values seen before the end.
      const syncing = run.samples.filter((m) => m.phase === 'syncing');
      assert.ok(
        run.samples.some((m) => m.phase === 'preflight'),
        'seen waiting in preflight',
      );
      for (const field of ['devicesDone', 'successCount', 'authErrors'] as const)
        assert.ok(nonDecreasing(run.samples, field), `${field} never decreases`);
      const midway = new Set(syncing.map((m) => m.devicesDone).filter((d) => d > 0 && d < DEVICES));
      assert.ok(midway.size >= 2, `counts seen growing during the run: ${[...midway].join(', ')}`);
      assert.ok(
        run.samples.some((m) => m.authErrors > 0 && m.devicesDone < DEVICES),
        'authErrors visible before the end',
      );
      assert.ok(
        run.samples.every((m) => m.alerts.length <= 1),
        'never more than one alert in the metrics',
      );
      const last = run.samples[run.samples.length - 1]!;
      assert.ok(last.devicesDone <= DEVICES && last.successCount <= DEVICES);

      // Nothing secret in any of this run's histories (parent and batches) or in the worker's logs.
      const histories = await historiesOf(
        suite.temporal.client,
        `WorkflowId STARTS_WITH '${handle.workflowId}'`,
      );
      assert.ok(histories.length >= 1 + DEVICES / 50, `parent and batches listed (${histories.length})`);
      const scanner = new SecretScanner().addEmulator('seed', {
        clientSecret: w.emulator.env.AZURE_CLIENT_SECRET!,
        tokens: w.emulator.issuedTokens(),
      });
      assert.ok(w.emulator.issuedTokens().length > 1, 'tokens were refreshed after 403s');
      assert.ok(suite.sdkLogs.length > 0, 'the SDK logged the failed attempts (searched too)');
      const leaks = [
        ...histories.flatMap((h) => scanner.scan(`history ${h.workflowId}`, h.text)),
        ...scanner.scan('worker log', w.worker.logs.join('\n')),
        ...scanner.scan('Temporal SDK log', suite.sdkLogs.join('\n')),
      ];
      assert.deepEqual(leaks, [], describeLeaks(leaks));

      report(
        'e2e seed',
        `${DEVICES} devices in ${(run.wallMs / 1000).toFixed(1)} s (workflow ${summary.durationMs} ms); ` +
          `authErrors ${summary.authErrors} = 403s ${refused}; tokens issued ${w.emulator.issuedTokens().length}; ` +
          `${run.samples.length} metrics samples, ${midway.size} distinct devicesDone mid-run; ` +
          `${histories.length} histories scanned`,
      );
    } finally {
      await w.close();
    }
  });
});

void describe('twin target, calm profile, 60 devices', () => {
  const DEVICES = 60;

  it('puts the document in every twin; a second sync finds all unchanged and writes nothing', async () => {
    const hub = uniqueHub('hub-e2e-twin');
    const w = await suite.world(
      'twin',
      { devices: DEVICES, profile: 'calm', hubName: hub },
      { env: { POLICY_TARGET: 'twin' } },
    );
    try {
      const first = await observeRun(await startSync(suite.temporal.client, w.worker.config), 500);
      assert.equal(first.error, undefined, String(first.error));
      assert.equal(first.summary!.target, 'twin');
      assert.equal(first.summary!.succeeded, DEVICES);
      assert.deepEqual(first.summary!.failed, []);
      const afterFirst = w.emulator.state();
      assert.deepEqual(fleetMismatches(afterFirst, emulatorDesired(w.emulator), 'twin'), []);
      assert.ok(
        Object.values(afterFirst.devices).every((d) => d.policy === null && d.twinWrites === 1),
        'one twin update per device, nothing on the securityPolicies resource',
      );

      const logMark = w.emulator.requestLog().length;
      const second = await observeRun(await startSync(suite.temporal.client, w.worker.config), 500);
      assert.equal(second.error, undefined, String(second.error));
      assert.equal(second.summary!.unchanged, DEVICES);
      assert.equal(second.summary!.succeeded, 0);
      assert.deepEqual(second.summary!.failed, []);
      const afterSecond = w.emulator.state();
      for (const [id, device] of Object.entries(afterSecond.devices))
        assert.equal(device.writes, afterFirst.devices[id]!.writes, `${id} written again`);
      const secondRequests = w.emulator.requestLog().slice(logMark);
      // The second sync observes the fleet with the device query and reads no twin of its own.
      assert.ok(
        secondRequests.some((r) => r.method === 'POST' && r.path.startsWith('/devices/query')),
        'the fleet observed in bulk',
      );
      assert.deepEqual(
        secondRequests.filter((r) => r.method === 'GET' && r.path.includes('/twins/')),
        [],
        'no twin read one by one: every device was in sync',
      );
      const mutating = mutatingRequests(w.emulator).filter((r) => /\/twins\/|securityPolicies/.test(r.path));
      assert.equal(mutating.length, DEVICES, 'only the first sync’s PATCHes, none from the second');
      assert.deepEqual(fleetMismatches(afterSecond, emulatorDesired(w.emulator), 'twin'), []);
      report(
        'e2e twin',
        `${DEVICES} twins: first sync ${(first.wallMs / 1000).toFixed(1)} s, second (all unchanged) ${(second.wallMs / 1000).toFixed(1)} s`,
      );
    } finally {
      await w.close();
    }
  });
});
