/**
 * Reconcile, not push, end to end: the product's worker (in-process) against the emulator over HTTPS, the
 * CLI as a user runs it (subprocesses), for both targets.
 *
 * - 300 devices written by a first sync; 10 tampered behind the product's back; `plan` names exactly those
 *   10; `run --wait` writes exactly those 10 (290 unchanged, drifted 10) and its requests are the list or
 *   query pages, tokens and the permission check — one GET per drifted device, none per device in sync;
 *   then `plan` finds nothing to write.
 * - A hub without the bulk read: the sync converges by per-device reads and says so once.
 * - The bulk read failing on the way (429 on a query page, an expired list continuation): the sync
 *   still judges every device by the observation and converges.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '../../src/emulator';
import type { PolicyTarget, RunSummary } from '../../src/workflows/types';
import { runCli, show, stdoutJson } from '../cli/helpers';
import { useEmulatorSuite, type EmulatorWorld } from './suite';
import { emulatorDesired, fleetMismatches, observeRun, productEnv, startSync, uniqueHub } from './support';

const suite = useEmulatorSuite('e2e-reconcile');

/** Successful writes the emulator counted for the target, over every device. */
function writeCount(w: EmulatorWorld, target: PolicyTarget): number {
  return Object.values(w.emulator.state().devices).reduce(
    (sum, device) => sum + (target === 'arm' ? device.armWrites : device.twinWrites),
    0,
  );
}

function isListPage(record: RequestRecord, target: PolicyTarget): boolean {
  return target === 'arm'
    ? record.method === 'GET' && record.path.endsWith('/securityPolicies')
    : record.path === '/devices/query';
}

for (const target of ['arm', 'twin'] as const) {
  void describe(`reconcile, not push (target ${target}, 300 devices)`, () => {
    it('writes only the 10 drifted devices, reads none of the 290 in sync, and plan agrees', async () => {
      const name = `steady-${target}`;
      const w = await suite.world(
        name,
        { devices: 300, profile: 'calm', hubName: uniqueHub(`hub-rec-${target}`) },
        { env: { POLICY_TARGET: target }, logLevel: 'INFO' },
      );
      // No acknowledgement phase (its queries are the compliance tests' subject): this counts what observing costs.
      const env = productEnv(w.emulator, suite.temporal, `${suite.temporal.taskQueue}-${name}`, {
        POLICY_TARGET: target,
        POLICY_ACK_DEADLINE: '0',
      });
      try {
        // A first sync: every device holds nothing yet, so every one drifted and is written once.
        const first = await runCli(['run', '--wait', '--json'], env);
        assert.equal(first.code, 0, show(first));
        const firstSummary = stdoutJson<RunSummary>(first);
        assert.equal(firstSummary.succeeded, 300, show(first));
        assert.equal(firstSummary.drifted, 300);
        assert.equal(firstSummary.observation, 'bulk');
        assert.equal(writeCount(w, target), 300, 'each device written once');

        const desired = emulatorDesired(w.emulator);
        const tampered = [...desired.keys()].filter((_, i) => i % 30 === 7);
        assert.equal(tampered.length, 10);
        for (const deviceId of tampered)
          w.emulator.tamperPolicy(deviceId, { version: 0, rules: [], tampered: true }, target);

        const plan = await runCli(['plan', '--json', '--detailed-exitcode'], env);
        assert.equal(plan.code, 4, show(plan));
        const planned = stdoutJson<{ devices: { deviceId: string; action: string }[] }>(plan);
        assert.deepEqual(
          planned.devices.map((d) => [d.deviceId, d.action]),
          tampered.map((id) => [id, 'update']),
        );

        const writesBefore = writeCount(w, target);
        const mark = w.emulator.requestLog().length;
        const second = await runCli(['run', '--wait', '--json'], env);
        assert.equal(second.code, 0, show(second));
        const requests = w.emulator.requestLog().slice(mark);
        const summary = stdoutJson<RunSummary>(second);
        assert.equal(summary.devicesTotal, 300);
        assert.equal(summary.succeeded, 10, show(second));
        assert.equal(summary.unchanged, 290);
        assert.equal(summary.drifted, 10);
        assert.equal(summary.observation, 'bulk');
        assert.deepEqual(summary.failed, []);
        assert.equal(writeCount(w, target), writesBefore + 10, 'exactly the 10 drifted devices written');
        assert.deepEqual(fleetMismatches(w.emulator.state(), desired, target), []);

        // What a steady fleet costs: list/query pages, tokens, the permission check; per device only the drift.
        const perDevice = requests.filter((r) => r.deviceId !== undefined);
        const gets = perDevice.filter((r) => r.method === 'GET');
        assert.deepEqual(
          gets.map((r) => r.deviceId).sort(),
          [...tampered].sort(),
          'one GET per drifted device, none for the 290 in sync',
        );
        assert.deepEqual(
          perDevice
            .filter((r) => r.method !== 'GET')
            .map((r) => r.deviceId)
            .sort(),
          [...tampered].sort(),
          'one write per drifted device',
        );
        const pages = requests.filter((r) => isListPage(r, target));
        assert.equal(pages.length, target === 'arm' ? 3 : 1, 'the list in pages of 100, the query in one');
        assert.ok(pages.every((r) => r.status === 200));
        const other = requests.filter((r) => r.deviceId === undefined && !isListPage(r, target));
        const unexpected = other.filter(
          (r) =>
            !r.path.endsWith('/oauth2/v2.0/token') &&
            !r.path.endsWith('/.well-known/openid-configuration') &&
            // The permission check: permissions, and the roles assigned that it names.
            !r.path.includes('/providers/Microsoft.Authorization/'),
        );
        assert.deepEqual(
          unexpected.map((r) => `${r.method} ${r.path}`),
          [],
          'besides pages and per-device drift: tokens, tenant metadata and the permission check only',
        );

        const after = await runCli(['plan', '--detailed-exitcode'], env);
        assert.equal(after.code, 0, show(after));
        assert.match(after.stdout, /Nothing to write/);
      } finally {
        await w.close();
      }
    });
  });
}

void describe('reconcile: a hub without the bulk read', () => {
  it('converges by per-device reads and says so once, for both targets', async () => {
    const w = await suite.world('unsupported', {
      devices: 40,
      profile: 'calm',
      hubName: uniqueHub('hub-rec-unsup'),
      faults: { listing: { armPageSize: 10, armListUnsupported: true, queryUnsupported: true } },
    });
    try {
      for (const target of ['arm', 'twin'] as const) {
        const handle = await startSync(suite.temporal.client, w.worker.config, {
          target,
          batchSize: 10,
          maxConcurrentBatches: 2,
          ...(target === 'twin' ? { ackDeadlineInMs: 0 } : {}),
        });
        const run = await observeRun(handle, 500);
        assert.equal(run.error, undefined, String(run.error));
        const summary = run.summary!;
        assert.equal(summary.succeeded, 40);
        assert.equal(summary.observation, 'perDevice');
        assert.equal(summary.drifted, 40, 'every device differed when its write read it');
        assert.deepEqual(fleetMismatches(w.emulator.state(), emulatorDesired(w.emulator), target), []);
        const lines = [...suite.sdkLogs, ...w.worker.logs].filter(
          (line) => line.includes('falls back to per-device reads') && line.includes(handle.workflowId),
        );
        assert.equal(lines.length, 1, `said once (pages of 10 devices: 4 pages): ${lines.join('\n')}`);
        const refused = w.emulator
          .requestLog()
          .filter((r) => isListPage(r, target) && r.status !== 200 && r.status !== 0);
        assert.equal(refused.length, 1, 'the bulk read was asked once, then per-device reads');
      }
    } finally {
      await w.close();
    }
  });
});

void describe('reconcile: the bulk read failing on the way', () => {
  it('a throttled query page (429) is asked again; the sync still writes only the drift', async () => {
    const w = await suite.world(
      'throttled-query',
      { devices: 70, profile: 'calm', hubName: uniqueHub('hub-rec-429') },
      // The worker paces above the hub's rate, so the hub's own throttle answers 429 with Retry-After.
      // No acknowledgement phase: its own queries are not what this test is about.
      { env: { POLICY_TARGET: 'twin', IOT_HUB_QUERIES_PER_MINUTE: '6000', POLICY_ACK_DEADLINE: '0' } },
    );
    try {
      const first = await observeRun(await startSync(suite.temporal.client, w.worker.config), 500);
      assert.equal(first.summary?.succeeded, 70, String(first.error));
      // One row per page, 60 queries a minute: the 71 pages outrun the hub's burst.
      w.emulator.setProfile('calm', { listing: { queryPageCap: 1, queriesPerMinute: 60 } });
      const tampered = ['device-0003', 'device-0040', 'device-0069'];
      for (const deviceId of tampered) w.emulator.tamperPolicy(deviceId, { drifted: true }, 'twin');
      const mark = w.emulator.requestLog().length;
      const run = await observeRun(await startSync(suite.temporal.client, w.worker.config), 500);
      assert.equal(run.error, undefined, String(run.error));
      const summary = run.summary!;
      const statuses = w.emulator
        .requestLog()
        .slice(mark)
        .filter((r) => isListPage(r, 'twin'))
        .map((r) => r.status);
      assert.ok(statuses.includes(429), `the hub throttled the query: ${statuses.length} pages`);
      assert.equal(summary.observation, 'bulk');
      assert.deepEqual([summary.succeeded, summary.unchanged, summary.drifted], [3, 67, 3]);
      assert.deepEqual(fleetMismatches(w.emulator.state(), emulatorDesired(w.emulator), 'twin'), []);
    } finally {
      await w.close();
    }
  });

  it('an expired list continuation starts the list over; the sync still writes only the drift', async () => {
    const w = await suite.world('expired-continuation', {
      devices: 70,
      profile: 'calm',
      hubName: uniqueHub('hub-rec-exp'),
    });
    try {
      const first = await observeRun(await startSync(suite.temporal.client, w.worker.config), 500);
      assert.equal(first.summary?.succeeded, 70, String(first.error));
      // Pages of 10, each request held 250 ms: time for the test to expire the continuations mid-list.
      const slow = { listing: { armPageSize: 10 }, latency: { fixedMs: 250 } };
      w.emulator.setProfile('calm', slow);
      const tampered = ['device-0001', 'device-0035'];
      for (const deviceId of tampered) w.emulator.tamperPolicy(deviceId, { drifted: true }, 'arm');
      const mark = w.emulator.requestLog().length;
      const handle = await startSync(suite.temporal.client, w.worker.config);
      // After the first page: continuations expire at once; after the first refusal: they are good again.
      let phase: 'waiting' | 'expiring' | 'healed' = 'waiting';
      const flip = setInterval(() => {
        const pages = w.emulator
          .requestLog()
          .slice(mark)
          .filter((r) => isListPage(r, 'arm'));
        if (phase === 'waiting' && pages.some((r) => r.status === 200)) {
          phase = 'expiring';
          w.emulator.setProfile('calm', { ...slow, listing: { armPageSize: 10, continuationTtlMs: 1 } });
        } else if (phase === 'expiring' && pages.some((r) => r.status === 400)) {
          phase = 'healed';
          w.emulator.setProfile('calm', slow);
        }
      }, 10);
      const run = await observeRun(handle, 500).finally(() => clearInterval(flip));
      assert.equal(run.error, undefined, String(run.error));
      const statuses = w.emulator
        .requestLog()
        .slice(mark)
        .filter((r) => isListPage(r, 'arm'))
        .map((r) => r.status);
      assert.ok(statuses.includes(400), `a continuation expired: ${statuses.join(',')}`);
      const summary = run.summary!;
      assert.equal(summary.observation, 'bulk');
      assert.deepEqual([summary.succeeded, summary.unchanged, summary.drifted], [2, 68, 2]);
      assert.deepEqual(fleetMismatches(w.emulator.state(), emulatorDesired(w.emulator), 'arm'), []);
    } finally {
      await w.close();
    }
  });
});
