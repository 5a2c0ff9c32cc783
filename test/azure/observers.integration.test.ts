/**
 * Bulk observation against the emulator: ARM's list and IoT Hub's device query, each failure mode (429, 403
 * while a role propagates, an expired continuation, a hub without the bulk read) and the per-device fallback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { observeArmPolicies, observeArmPolicy, type ArmObserverOptions } from '../../src/azure/arm-observer';
import { isAzureRequestError } from '../../src/azure/errors';
import {
  isObservationUnsupportedError,
  type ObservationOptions,
  type ObservedDevice,
} from '../../src/azure/observation';
import {
  createQueryPacer,
  observeTwinPolicies,
  observeTwinPolicy,
  type TwinObserverOptions,
} from '../../src/azure/twin-observer';
import type { EmulatorOptions } from '../../src/emulator';
import { startTestWorld, tokensOn, type TestWorld } from './emulator-support';

const ids = (count: number, from = 1): string[] =>
  Array.from({ length: count }, (_, i) => `device-${String(i + from).padStart(4, '0')}`);

async function withWorld(options: EmulatorOptions, body: (world: TestWorld) => Promise<void>): Promise<void> {
  const world = await startTestWorld(options);
  try {
    await body(world);
  } finally {
    await world.close();
  }
}

function armOptions(world: TestWorld, extra: ObservationOptions = {}): ArmObserverOptions {
  return {
    http: world.azure.http,
    tokens: world.azure.armTokens,
    armEndpoint: world.config.azure.armEndpoint,
    hubScope: world.config.hub.scope,
    retryDelayInMs: 100,
    ...extra,
  };
}

function twinOptions(world: TestWorld, extra: Partial<TwinObserverOptions> = {}): TwinObserverOptions {
  return {
    http: world.azure.http,
    tokens: world.azure.iotHubTokens,
    hubHost: world.config.hub.host,
    retryDelayInMs: 100,
    ...extra,
  };
}

/** Drains an observation; `pauseAfterFirst` holds the consumer (and so the next page) that long once. */
async function drain(
  observation: AsyncIterable<ObservedDevice>,
  pauseEveryPageInMs = 0,
  pauseOnceInMs = 0,
): Promise<ObservedDevice[]> {
  const seen: ObservedDevice[] = [];
  for await (const device of observation) {
    seen.push(device);
    if (seen.length === 1 && pauseOnceInMs > 0) await new Promise((r) => setTimeout(r, pauseOnceInMs));
    if (pauseEveryPageInMs > 0) await new Promise((r) => setTimeout(r, pauseEveryPageInMs));
  }
  return seen;
}

function listRequests(world: TestWorld): { status: number }[] {
  return world.emulator.requestLog().filter((r) => r.path.endsWith('/securityPolicies'));
}

function queryRequests(world: TestWorld): { status: number }[] {
  return world.emulator.requestLog().filter((r) => r.path === '/devices/query');
}

/** An observation without the ARM resource it was read from (compared on its own elsewhere). */
function withoutResource<T>(observed: T): T {
  if (typeof observed !== 'object' || observed === null) return observed;
  const { resource: _resource, ...rest } = observed as Record<string, unknown>;
  return rest as T;
}

void describe('observeArmPolicies', () => {
  void it('pages through the list, normalizes each envelope, and yields only devices with a policy', async () => {
    await withWorld({ devices: 30, faults: { listing: { armPageSize: 7 } } }, async (world) => {
      for (const id of ids(20)) world.emulator.tamperPolicy(id, { version: 1, owner: id });
      world.emulator.tamperPolicy('device-0003', { version: 1, provisioningState: 'Succeeded' });
      world.emulator.tamperPolicy('device-0004', { version: 1, provisioningState: 'Failed' });
      const seen = await drain(observeArmPolicies(armOptions(world)));
      assert.deepEqual(
        seen.map((d) => d.deviceId),
        ids(20),
      );
      assert.deepEqual(withoutResource(seen[0]), {
        deviceId: 'device-0001',
        document: { version: 1, owner: 'device-0001' },
      });
      assert.equal(
        seen[0]?.resource?.name,
        'device-0001',
        'the listed resource is kept, to compare in the desired form',
      );
      assert.deepEqual(seen[2]?.document, { version: 1 }, "ARM's Succeeded state is not part of the policy");
      assert.deepEqual(seen[3]?.document, { version: 1, provisioningState: 'Failed' });
      assert.deepEqual(
        listRequests(world).map((r) => r.status),
        [200, 200, 200],
      );
      assert.equal(world.emulator.requestLog().filter((r) => r.deviceId).length, 0, 'no request per device');
    });
  });

  void it('asks a throttled page again after Retry-After, at its own continuation', async () => {
    await withWorld(
      {
        devices: 10,
        faults: {
          listing: { armPageSize: 2 },
          throttling: { armReads: { burst: 2, refillPerSec: 2 } },
        },
      },
      async (world) => {
        for (const id of ids(10)) world.emulator.tamperPolicy(id, { v: id });
        const seen = await drain(observeArmPolicies(armOptions(world)));
        assert.deepEqual(
          seen.map((d) => d.deviceId),
          ids(10),
        );
        const statuses = listRequests(world).map((r) => r.status);
        assert.ok(statuses.includes(429), `some pages were throttled: ${statuses.join(',')}`);
        assert.equal(statuses.filter((s) => s === 200).length, 5, 'each page answered once: no restart');
      },
    );
  });

  void it('retries a 403 while the role propagates, each time with a fresh token', async () => {
    await withWorld({ devices: 5, faults: { propagation: { delayMs: 1_200 } } }, async (world) => {
      for (const id of ids(5)) world.emulator.tamperPolicy(id, { v: 1 });
      const seen = await drain(observeArmPolicies(armOptions(world, { retryDelayInMs: 200 })));
      assert.equal(seen.length, 5);
      const attempts = tokensOn(world.emulator, '/securityPolicies');
      const refused = attempts.filter((a) => a.status === 403);
      assert.ok(refused.length >= 2, `refused while propagating: ${refused.length}`);
      assert.equal(new Set(attempts.map((a) => a.token)).size, attempts.length, 'a new token every time');
      assert.equal(attempts.at(-1)?.status, 200);
    });
  });

  void it('starts the listing over when a continuation expired, yielding each device once', async () => {
    await withWorld(
      { devices: 9, faults: { listing: { armPageSize: 3, continuationTtlMs: 200 } } },
      async (world) => {
        for (const id of ids(9)) world.emulator.tamperPolicy(id, { v: 1 });
        const seen = await drain(observeArmPolicies(armOptions(world)), 0, 500);
        assert.deepEqual(
          seen.map((d) => d.deviceId),
          ids(9),
        );
        assert.deepEqual(
          listRequests(world).map((r) => r.status),
          [200, 400, 200, 200, 200],
        );
      },
    );
  });

  void it('gives up after the configured restarts when every continuation expires', async () => {
    await withWorld(
      { devices: 9, faults: { listing: { armPageSize: 1, continuationTtlMs: 20 } } },
      async (world) => {
        for (const id of ids(9)) world.emulator.tamperPolicy(id, { v: 1 });
        await assert.rejects(drain(observeArmPolicies(armOptions(world, { restarts: 2 })), 100), (error) => {
          assert.ok(isAzureRequestError(error));
          assert.match(error.message, /continuation expired again after 2 fresh starts/);
          return true;
        });
        assert.equal(listRequests(world).filter((r) => r.status === 400).length, 3);
      },
    );
  });

  void it('throws ObservationUnsupported after one request when the hub offers no list; single GETs observe', async () => {
    await withWorld({ devices: 5, faults: { listing: { armListUnsupported: true } } }, async (world) => {
      world.emulator.tamperPolicy('device-0001', { v: 1 });
      await assert.rejects(drain(observeArmPolicies(armOptions(world))), (error) => {
        assert.ok(isObservationUnsupportedError(error));
        assert.equal(error.code, 'ObservationUnsupported');
        assert.equal(error.statusCode, 405);
        return true;
      });
      assert.equal(listRequests(world).length, 1);
      assert.deepEqual(withoutResource(await observeArmPolicy(armOptions(world), 'device-0001')), {
        deviceId: 'device-0001',
        document: { v: 1 },
      });
      assert.deepEqual(await observeArmPolicy(armOptions(world), 'device-0002'), {
        deviceId: 'device-0002',
        document: null,
      });
      assert.equal(await observeArmPolicy(armOptions(world), 'ghost'), 'notInHub');
    });
  });
});

void describe('observeTwinPolicies', () => {
  void it('pages through the projected query: every device, its policy, etag and desired version', async () => {
    await withWorld({ devices: 23, faults: { listing: { queryPageCap: 10 } } }, async (world) => {
      world.emulator.tamperPolicy('device-0002', { v: 2 }, 'twin');
      const seen = await drain(observeTwinPolicies(twinOptions(world)));
      assert.deepEqual(
        seen.map((d) => d.deviceId),
        ids(23),
      );
      assert.deepEqual(seen[1]?.document, { v: 2 });
      assert.equal(seen[1]?.desiredVersion, 2);
      assert.equal(typeof seen[1]?.etag, 'string');
      assert.equal(seen[1]?.connectionState, 'Connected');
      assert.equal(seen[0]?.document, null);
      assert.deepEqual(
        queryRequests(world).map((r) => r.status),
        [200, 200, 200],
      );
    });
  });

  void it('resumes at its continuation after the hub throttles the query', async () => {
    await withWorld(
      { devices: 64, faults: { listing: { queryPageCap: 1, queriesPerMinute: 60 } } },
      async (world) => {
        const seen = await drain(
          observeTwinPolicies(
            twinOptions(world, { queryPacer: createQueryPacer(600_000), retryDelayInMs: 500 }),
          ),
        );
        assert.equal(new Set(seen.map((d) => d.deviceId)).size, 64);
        assert.equal(seen.length, 64);
        const statuses = queryRequests(world).map((r) => r.status);
        assert.ok(statuses.includes(429), 'the hub throttled');
        assert.equal(statuses.filter((s) => s === 200).length, 64, 'no page asked twice, no restart');
      },
    );
  });

  void it('paces queries at the configured rate', async () => {
    await withWorld({ devices: 4, faults: { listing: { queryPageCap: 1 } } }, async (world) => {
      const started = Date.now();
      const pacer = createQueryPacer(60); // a burst of 60, then one a second
      for (let i = 0; i < 58; i++) await pacer.acquire().then(() => pacer.release(undefined));
      await drain(observeTwinPolicies(twinOptions(world, { queryPacer: pacer })));
      assert.ok(
        Date.now() - started >= 1_500,
        `4 pages with 2 left in the budget wait ~2 s (${Date.now() - started} ms)`,
      );
    });
  });

  void it('retries 401 IotHubUnauthorized while the role propagates, with fresh tokens', async () => {
    await withWorld({ devices: 3, faults: { propagation: { delayMs: 1_200 } } }, async (world) => {
      const seen = await drain(observeTwinPolicies(twinOptions(world, { retryDelayInMs: 200 })));
      assert.equal(seen.length, 3);
      const attempts = tokensOn(world.emulator, '/devices/query');
      assert.ok(attempts.filter((a) => a.status === 401).length >= 2);
      assert.equal(new Set(attempts.map((a) => a.token)).size, attempts.length, 'a new token every time');
    });
  });

  void it('starts the query over when its continuation expired', async () => {
    await withWorld(
      { devices: 6, faults: { listing: { queryPageCap: 2, continuationTtlMs: 200 } } },
      async (world) => {
        const seen = await drain(observeTwinPolicies(twinOptions(world)), 0, 500);
        assert.deepEqual(
          seen.map((d) => d.deviceId),
          ids(6),
        );
        assert.deepEqual(
          queryRequests(world).map((r) => r.status),
          [200, 400, 200, 200, 200],
        );
      },
    );
  });

  void it('throws ObservationUnsupported when the hub cannot run the query; twin GETs observe', async () => {
    await withWorld({ devices: 3, faults: { listing: { queryUnsupported: true } } }, async (world) => {
      world.emulator.tamperPolicy('device-0001', { v: 1 }, 'twin');
      await assert.rejects(drain(observeTwinPolicies(twinOptions(world))), (error) => {
        assert.ok(isObservationUnsupportedError(error));
        assert.equal(error.statusCode, 400);
        return true;
      });
      assert.equal(queryRequests(world).length, 1);
      const one = await observeTwinPolicy(twinOptions(world), 'device-0001');
      assert.ok(one !== 'notInHub');
      assert.deepEqual(one.document, { v: 1 });
      assert.equal(one.desiredVersion, 2);
      assert.equal(await observeTwinPolicy(twinOptions(world), 'ghost'), 'notInHub');
    });
  });
});
