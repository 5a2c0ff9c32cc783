/**
 * `policy-sync plan` as a user runs it (a subprocess), against the emulator: every policy written, 10
 * tampered behind the product's back, and the plan names exactly those 10, for both targets; a steady
 * fleet costs the list or query pages and the token, nothing per device.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { PolicyWriter } from '../../src/azure/policy-writer';
import type { RequestRecord } from '../../src/emulator';
import { startTestWorld, type TestWorld } from '../azure/emulator-support';
import { runCli, show, stdoutJson } from './helpers';

const DEVICES = 40;
const PAGE = 15;

interface PlanJson {
  hub: string;
  target: string;
  observedAt: string;
  counts: Record<string, number>;
  devices: { deviceId: string; action: string; policy: string | null; reason?: string }[];
}

let world: TestWorld;
let inventory: { deviceId: string; policy: string }[];
let policies: Record<string, Record<string, unknown>>;

before(async () => {
  world = await startTestWorld({
    devices: DEVICES,
    faults: { listing: { armPageSize: PAGE, queryPageCap: PAGE } },
  });
  inventory = JSON.parse(readFileSync(world.emulator.env.DEVICES_FILE!, 'utf8')) as typeof inventory;
  policies = JSON.parse(readFileSync(world.emulator.env.POLICIES_FILE!, 'utf8')) as typeof policies;
});

after(async () => {
  await world?.close();
});

async function writeAll(writer: PolicyWriter): Promise<void> {
  for (const { deviceId, policy } of inventory) {
    const result = await writer.writePolicy({ deviceId, document: policies[policy]! });
    assert.equal(result.status, 'succeeded');
  }
}

/** Every fourth device from the third on: 10 of the 40. */
const tampered = Array.from({ length: 10 }, (_, i) => `device-${String(3 + 4 * i).padStart(4, '0')}`);

function requestsSince(mark: number): RequestRecord[] {
  return world.emulator.requestLog().slice(mark);
}

function cliEnv(target: 'arm' | 'twin'): NodeJS.ProcessEnv {
  return { ...world.emulator.env, POLICY_TARGET: target };
}

for (const target of ['arm', 'twin'] as const) {
  void describe(`policy-sync plan (target ${target})`, () => {
    before(async () => {
      world.emulator.reset();
      world.emulator.setProfile('calm', { listing: { armPageSize: PAGE, queryPageCap: PAGE } });
      await writeAll(world.azure.writers[target]);
    });

    void it('names exactly the 10 tampered devices as update and exits 4 with --detailed-exitcode', async () => {
      for (const deviceId of tampered) {
        world.emulator.tamperPolicy(deviceId, { version: 0, rules: [], tampered: true }, target);
      }
      const mark = world.emulator.requestLog().length;
      const result = await runCli(['plan', '--json', '--detailed-exitcode'], cliEnv(target));
      assert.equal(result.code, 4, show(result));
      const plan = stdoutJson<PlanJson>(result);
      assert.equal(plan.hub, world.emulator.hub.name);
      assert.equal(plan.target, target);
      assert.ok(!Number.isNaN(Date.parse(plan.observedAt)));
      assert.deepEqual(plan.counts, { create: 0, update: 10, unchanged: 30, notInHub: 0, orphan: 0 });
      assert.deepEqual(
        plan.devices.map((d) => d.deviceId),
        tampered,
      );
      assert.ok(plan.devices.every((d) => d.action === 'update' && typeof d.policy === 'string'));
      const writes = requestsSince(mark).filter((r) => r.method !== 'GET' && r.path !== '/devices/query');
      assert.ok(
        writes.every((r) => r.path.includes('/oauth2/')),
        `plan writes nothing: ${JSON.stringify(writes)}`,
      );
    });

    void it('costs a steady fleet its pages and the token, nothing per device; exit 0', async () => {
      for (const deviceId of tampered) {
        const policy = inventory.find((d) => d.deviceId === deviceId)!.policy;
        world.emulator.tamperPolicy(deviceId, policies[policy]!, target);
      }
      const mark = world.emulator.requestLog().length;
      const result = await runCli(['plan', '--detailed-exitcode'], cliEnv(target));
      assert.equal(result.code, 0, show(result));
      assert.match(result.stdout, /0 to create, 0 to update, 40 unchanged, 0 not in hub, 0 orphans/);
      assert.match(result.stdout, /Nothing to write/);
      const requests = requestsSince(mark);
      const perDevice = requests.filter((r) => r.deviceId !== undefined);
      assert.deepEqual(perDevice, [], 'no request names a device');
      const pages = requests.filter((r) =>
        target === 'arm' ? r.path.endsWith('/securityPolicies') : r.path === '/devices/query',
      );
      assert.deepEqual(
        pages.map((r) => r.status),
        [200, 200, 200],
        `${DEVICES} devices in pages of ${PAGE}`,
      );
      const tokens = requests.filter((r) => r.path.endsWith('/oauth2/v2.0/token'));
      assert.equal(tokens.length, 1, 'one token');
      const other = requests.filter((r) => !pages.includes(r) && !tokens.includes(r));
      assert.ok(
        other.length <= 1 && other.every((r) => r.path.endsWith('/.well-known/openid-configuration')),
        `besides the pages and the token, at most MSAL's tenant metadata: ${other.map((r) => r.path).join(', ')}`,
      );
    });

    void it('falls back to one read per device where the bulk read is unsupported, and says so once', async () => {
      world.emulator.setProfile('calm', {
        listing: { armPageSize: PAGE, queryPageCap: PAGE, armListUnsupported: true, queryUnsupported: true },
      });
      world.emulator.tamperPolicy('device-0005', { drifted: true }, target);
      try {
        const mark = world.emulator.requestLog().length;
        const result = await runCli(
          ['plan', '--json', '--detailed-exitcode', '--devices', 'device-0005,device-0006'],
          cliEnv(target),
        );
        assert.equal(result.code, 4, show(result));
        assert.equal(result.stderr.match(/does not offer this bulk read/g)?.length, 1, show(result));
        const plan = stdoutJson<PlanJson>(result);
        assert.deepEqual(plan.counts, { create: 0, update: 1, unchanged: 1, notInHub: 0, orphan: 0 });
        assert.deepEqual(
          plan.devices.map((d) => [d.deviceId, d.action]),
          [['device-0005', 'update']],
        );
        const perDevice = requestsSince(mark).filter((r) => r.deviceId !== undefined);
        assert.deepEqual(perDevice.map((r) => r.deviceId).sort(), ['device-0005', 'device-0006']);
      } finally {
        world.emulator.setProfile('calm', { listing: { armPageSize: PAGE, queryPageCap: PAGE } });
      }
    });
  });
}
