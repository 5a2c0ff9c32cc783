import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isAzureRequestError } from '../../src/azure/errors';
import { FailureType } from '../../src/domain/failure-codes';
import { startTestWorld, type TestWorld } from './emulator-support';

const policy = { version: 3, rules: [{ id: 'tls-min', setting: 'tls.minVersion', value: '1.2' }] };

void describe('policy writers against the emulator (calm)', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ profile: 'calm' });
  });
  after(async () => {
    await world.close();
  });

  void it('arm: writes, then skips a device that already holds the policy', async () => {
    const writer = world.azure.writers.arm;
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0001', document: policy }), {
      status: 'succeeded',
    });
    assert.deepEqual(world.emulator.state().devices['device-0001']?.policy, policy);
    // Key order does not matter.
    const reordered = { rules: policy.rules, version: 3 };
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0001', document: reordered }), {
      status: 'unchanged',
    });
    assert.equal(world.emulator.state().devices['device-0001']?.armWrites, 1);
  });

  void it('arm: a device known to hold no policy is created without a read, and never written twice', async () => {
    const writer = world.azure.writers.arm;
    const requests = (deviceId: string) =>
      world.emulator
        .requestLog()
        .filter((r) => r.path.split('/securityPolicies/')[1] === deviceId)
        .map((r) => `${r.method} ${r.status}`);
    assert.deepEqual(
      await writer.writePolicy({ deviceId: 'device-0011', document: policy, knownAbsent: true }),
      {
        status: 'succeeded',
      },
    );
    assert.deepEqual(requests('device-0011'), ['PUT 201'], 'one request: the conditional create');
    // The same write again (its answer lost, or a local attempt run again after a worker died): the create is
    // refused (412), the writer reads and finds the policy there.
    assert.deepEqual(
      await writer.writePolicy({ deviceId: 'device-0011', document: policy, knownAbsent: true }),
      {
        status: 'unchanged',
      },
    );
    assert.deepEqual(requests('device-0011'), ['PUT 201', 'PUT 412', 'GET 200']);
    assert.equal(world.emulator.state().devices['device-0011']?.armWrites, 1, 'written once');
    // Another document meanwhile: read, then written (unconditionally: the read saw what it holds).
    assert.deepEqual(
      await writer.writePolicy({
        deviceId: 'device-0011',
        document: { ...policy, version: 4 },
        knownAbsent: true,
      }),
      { status: 'succeeded' },
    );
    assert.equal(world.emulator.state().devices['device-0011']?.armWrites, 2);
  });

  void it('twin: writes with If-Match, removes keys no longer wanted, then skips', async () => {
    const writer = world.azure.writers.twin;
    await writer.writePolicy({ deviceId: 'device-0002', document: { ...policy, extra: { a: 1 } } });
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0002', document: policy }), {
      status: 'succeeded',
    });
    assert.deepEqual(world.emulator.state().devices['device-0002']?.twinPolicy, policy);
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0002', document: policy }), {
      status: 'unchanged',
    });
    const patches = world.emulator.requestLog().filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, 2);
  });

  void it("twin: keys '__proto__' and 'constructor' are written, stored and then found unchanged", async () => {
    const writer = world.azure.writers.twin;
    // JSON.parse makes '__proto__' an own key, as it is when read from POLICIES_FILE.
    const document = JSON.parse(
      '{"version": 1, "__proto__": {"polluted": true}, "constructor": "c", "rules": [{"__proto__": 1}]}',
    ) as Record<string, unknown>;
    const patchesBefore = world.emulator.requestLog().filter((r) => r.method === 'PATCH').length;
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0006', document }), {
      status: 'succeeded',
    });
    const stored = world.emulator.state().devices['device-0006']?.twinPolicy as Record<string, unknown>;
    assert.deepEqual(Object.keys(stored).sort(), ['__proto__', 'constructor', 'rules', 'version']);
    assert.equal(JSON.stringify(stored), JSON.stringify(document));
    assert.equal(Object.getPrototypeOf(stored), Object.prototype, 'the key did not become a prototype');
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0006', document }), {
      status: 'unchanged',
    });
    // A later document without those keys removes them.
    assert.deepEqual(await writer.writePolicy({ deviceId: 'device-0006', document: { version: 2 } }), {
      status: 'succeeded',
    });
    assert.deepEqual(world.emulator.state().devices['device-0006']?.twinPolicy, { version: 2 });
    const patches = world.emulator.requestLog().filter((r) => r.method === 'PATCH').length;
    assert.equal(patches - patchesBefore, 2);
  });

  void it('one token per scope serves every request', async () => {
    const before = world.emulator.state().tokensIssued;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        world.azure.writers.arm.writePolicy({ deviceId: `device-00${String(i + 10)}`, document: policy }),
      ),
    );
    assert.equal(world.emulator.state().tokensIssued, before);
  });

  void it('DeviceNotFound for an unknown device, on both targets', async () => {
    for (const target of ['arm', 'twin'] as const) {
      await assert.rejects(
        world.azure.writers[target].writePolicy({ deviceId: 'no-such-device', document: policy }),
        (e: unknown) => {
          assert.ok(isAzureRequestError(e));
          assert.equal(e.code, FailureType.DeviceNotFound, target);
          assert.equal(e.statusCode, 404);
          assert.match(e.message, /device 'no-such-device'/);
          return true;
        },
      );
    }
  });

  void it('InvalidPolicy for a document Azure refuses', async () => {
    const huge = { blob: 'x'.repeat(40 * 1024) };
    await assert.rejects(
      world.azure.writers.arm.writePolicy({ deviceId: 'device-0003', document: huge }),
      (e: unknown) => {
        assert.ok(isAzureRequestError(e));
        assert.equal(e.code, FailureType.InvalidPolicy);
        assert.equal(e.retryable, false);
        return true;
      },
    );
  });

  void it('InvalidPolicy, before any request, for a document nested deeper than the inventory allows', async () => {
    const deep = { x: JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) as unknown };
    const sentBefore = world.emulator.requestLog().length;
    for (const target of ['arm', 'twin'] as const) {
      await assert.rejects(
        world.azure.writers[target].writePolicy({ deviceId: 'device-0005', document: deep }),
        (e: unknown) => {
          assert.ok(isAzureRequestError(e), String(e));
          assert.equal(e.code, FailureType.InvalidPolicy, target);
          assert.equal(e.retryable, false);
          assert.match(e.message, /device 'device-0005'.*more than 32 levels/);
          return true;
        },
      );
    }
    assert.equal(world.emulator.requestLog().length, sentBefore, 'nothing was sent');
  });

  void it('honours the abort signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('activity cancelled'));
    await assert.rejects(
      world.azure.writers.arm.writePolicy({
        deviceId: 'device-0004',
        document: policy,
        abortSignal: controller.signal,
      }),
      /activity cancelled/,
    );
  });
});
