import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, createActivityDeps } from '../../src/activities';
import type { PolicySyncActivities } from '../../src/domain/activity-contract';
import { createAzureAccess } from '../../src/azure/access';
import { createAzureAgent } from '../../src/azure/http';
import { checkRolePropagation } from '../../src/azure/preflight';
import { setupRbac } from '../../src/azure/rbac';
import type { Emulator } from '../../src/emulator';
import { createLogger } from '../../src/logger';
import { configFor } from '../azure/emulator-support';
import { startActivitiesAgainstEmulator } from './activity-support';

/** Everything printed or thrown during the test, as text. */
const seen: string[] = [];
const capture = (error: unknown) => {
  if (error instanceof Error) {
    seen.push(
      String(error),
      error.message,
      error.stack ?? '',
      inspect(error, { depth: 12 }),
      JSON.stringify(error),
    );
    if (error instanceof ApplicationFailure) seen.push(JSON.stringify(error.details ?? []));
  } else {
    seen.push(inspect(error, { depth: 12 }));
  }
};
const sdkLogger = new DefaultLogger('TRACE', (entry) => seen.push(inspect(entry, { depth: 12 })));

void describe('no token and no client secret in any log line or error', () => {
  let emulator: Emulator;
  let activities: PolicySyncActivities;
  let close: () => Promise<void>;

  before(async () => {
    const world = await startActivitiesAgainstEmulator(
      {
        devices: 30,
        profile: 'hostile',
        faults: {
          propagation: { delayMs: 500, flakyWindowMs: 1500, flakyRatio: 0.5 },
          latency: { fixedMs: 0, jitterMs: 5 },
        },
      },
      { level: 'TRACE', write: (line) => seen.push(line) },
    );
    ({ emulator, activities } = world);
    close = world.close;
  });
  after(async () => {
    await close();
  });

  void it('through hostile faults, 403s, claims challenges, a wrong secret, preflight and setup-rbac', async () => {
    const run = async <R>(fn: () => Promise<R>, info = {}): Promise<R | undefined> => {
      try {
        return await new MockActivityEnvironment(info, { logger: sdkLogger }).run(fn);
      } catch (error) {
        capture(error);
        return undefined;
      }
    };
    const loaded = await run(() => activities.loadInventory({ deviceIds: ['device-0001', 'nope'] }));
    const all = await run(() => activities.loadInventory({}));
    assert.ok(loaded && all);
    const devices =
      (await run(() =>
        activities.readInventoryPage({ snapshotId: all.snapshot.id, offset: 0, limit: 100 }),
      )) ?? [];
    for (const target of ['arm', 'twin'] as const) {
      await Promise.all(
        devices.map(async (device) => {
          let heartbeatDetails: unknown;
          for (let attempt = 1; attempt <= 4; attempt++) {
            const env = new MockActivityEnvironment({ attempt, heartbeatDetails }, { logger: sdkLogger });
            env.on('heartbeat', (d: unknown) => {
              heartbeatDetails = d;
              seen.push(JSON.stringify(d));
            });
            try {
              seen.push(
                JSON.stringify(
                  await env.run(activities.applySecurityPolicy, {
                    ...device,
                    target,
                    snapshotId: all.snapshot.id,
                  }),
                ),
              );
              return;
            } catch (error) {
              capture(error);
            }
          }
        }),
      );
    }
    await run(() => activities.checkRolePropagation({ target: 'arm' }));
    await run(() =>
      activities.applySecurityPolicy({
        deviceId: 'device-0001',
        policy: 'nope',
        target: 'arm',
        snapshotId: all.snapshot.id,
      }),
    );
    await run(() => activities.readInventoryPage({ snapshotId: 'inv-0000', offset: 0, limit: 1 }));

    // A worker with a wrong secret.
    const dispatcher = createAzureAgent({ ca: emulator.caPem });
    const wrong = createActivities(
      createActivityDeps(
        configFor(emulator, { AZURE_CLIENT_SECRET: `${emulator.principal.clientSecret}x` }),
        {
          dispatcher,
          logger: createLogger({ format: 'plain', level: 'TRACE', write: (line) => seen.push(line) }),
        },
      ),
    );
    await run(() =>
      wrong.applySecurityPolicy({
        deviceId: 'device-0002',
        policy: 'baseline',
        target: 'arm',
        snapshotId: all.snapshot.id,
      }),
    );
    await run(() => wrong.checkRolePropagation({ target: 'twin' }));

    // preflight and setup-rbac, including their failures.
    const access = createAzureAccess(configFor(emulator), { dispatcher });
    seen.push(JSON.stringify(await checkRolePropagation(access.rolePropagation, 'arm').catch(capture)));
    const rbac = {
      credential: access.armTokens.asTokenCredential(),
      armEndpoint: emulator.url,
      subscriptionId: emulator.hub.subscriptionId,
      hubScope: emulator.hub.scope,
      target: 'arm' as const,
      onProgress: (m: string) => seen.push(m),
    };
    seen.push(
      JSON.stringify(
        await setupRbac({ ...rbac, principalObjectId: emulator.principal.objectId }).catch(capture),
      ),
    );
    await setupRbac({ ...rbac, principalObjectId: '11111111-1111-4111-8111-111111111111' }).catch(capture);
    await dispatcher.close();

    const text = seen.join('\n');
    const tokens = emulator.issuedTokens();
    assert.ok(tokens.length >= 3, `tokens were issued (${tokens.length})`);
    assert.ok(
      emulator.state().faults.claimsChallenges +
        emulator.requestLog().filter((r) => r.status === 403).length >
        0,
    );
    assert.ok(seen.length > 100, `enough was captured (${seen.length})`);
    assert.ok(!text.includes(emulator.principal.clientSecret), 'the client secret appears in the output');
    const leaked = tokens.filter((token) => text.includes(token));
    assert.deepEqual(leaked.length, 0, `${leaked.length} issued token(s) appear in the output`);
    // Sanity: the capture does contain the interesting failures.
    assert.match(text, /AuthorizationFailed/);
    assert.match(text, /AADSTS7000215/);
  });
});
