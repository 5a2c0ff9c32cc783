import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAzureAccess } from '../../src/azure/access';
import { isAzureRequestError, type AzureRequestError } from '../../src/azure/errors';
import { createAzureAgent } from '../../src/azure/http';
import type { PolicyTarget } from '../../src/workflows/types';
import { FailureType } from '../../src/domain/failure-codes';
import { configFor, startTestWorld, trustEmulator, type TestWorld } from './emulator-support';

const doc = { version: 1 };

async function failure(
  world: TestWorld,
  target: PolicyTarget,
  deviceId = 'device-0001',
): Promise<AzureRequestError> {
  try {
    await world.azure.writers[target].writePolicy({ deviceId, document: doc });
  } catch (error) {
    assert.ok(isAzureRequestError(error), String(error));
    return error;
  }
  assert.fail('the write succeeded');
}

void describe('each error class, against the emulator', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld(
      { grantOnStart: false },
      {},
      { armPacing: false, armReadPacing: false, twinPacing: false, requestTimeoutInMs: 5_000 },
    );
  });
  after(async () => {
    await world.close();
  });

  void it("403 → AuthorizationFailed; the refused request's next try carries a token issued after the refusal", async () => {
    const e = await failure(world, 'arm');
    assert.equal(e.code, FailureType.AuthorizationFailed);
    assert.equal(e.statusCode, 403);
    assert.equal(e.retryable, true);
    assert.match(e.message, /403 AuthorizationFailed reading the security policy of device 'device-0001'/);
    const refused = world.emulator
      .requestLog()
      .filter((r) => r.status === 403)
      .at(-1)?.token;
    assert.ok(refused);
    const refusedAt = Date.now();
    // Other requests may go on with it: a 403 says the permission is not effective yet, not that the token is bad.
    assert.equal(await world.azure.armTokens.getToken(), refused);
    assert.notEqual(await world.azure.armTokens.getToken({ issuedAfterInMs: refusedAt }), refused);
  });

  void it("twin without the data action → IoT Hub's 401 IotHubUnauthorized → AuthorizationFailed", async () => {
    const e = await failure(world, 'twin');
    assert.equal(e.code, FailureType.AuthorizationFailed);
    assert.equal(e.statusCode, 401);
    assert.equal(e.azureCode, 'IotHubUnauthorized');
  });

  void it('401 claims challenge → one retry inside the call with a new token that answers the claims', async () => {
    world.emulator.reset();
    world.emulator.setProfile('calm', { transient: { unauthorizedChallengeRatio: 1 } });
    const e = await failure(world, 'arm');
    // Past the challenge, the principal (no grant here) is refused as usual.
    assert.equal(e.code, FailureType.AuthorizationFailed);
    const calls = world.emulator.requestLog().filter((r) => r.path.includes('securityPolicies'));
    assert.deepEqual(
      calls.map((c) => c.status),
      [401, 403],
    );
    assert.notEqual(calls[0]!.token, calls[1]!.token, 'the retry carried a new token');
    assert.equal(
      world.emulator.state().faults.claimsChallenges,
      1,
      'the new token answered the challenge (claims passed to Entra ID)',
    );
  });

  void it('429 → Throttled with Retry-After', async () => {
    world.emulator.reset();
    world.emulator.setProfile('calm', { throttling: { armReads: { burst: 1, refillPerSec: 0.1 } } });
    await failure(world, 'arm'); // the one read token goes (403: no grant)
    const e = await failure(world, 'arm');
    assert.equal(e.code, FailureType.Throttled);
    assert.equal(e.statusCode, 429);
    // 0.1 tokens/s: 10 s for the next one, less the time since the first read took it (the machine may be slow).
    assert.ok(
      e.retryAfterInMs !== undefined && e.retryAfterInMs >= 8_000 && e.retryAfterInMs <= 10_000,
      String(e.retryAfterInMs),
    );
    assert.match(e.message, /will retry after (8|9|10) s/);
  });

  void it('twin 429 → Throttled', async () => {
    world.emulator.setProfile('calm', { throttling: { twinUpdatesPerSec: 1 } });
    // The twin needs the grant to reach the update; reading works without throttling.
    world.emulator.reset();
    const granted = await startTestWorld(
      { profile: 'calm', faults: { throttling: { twinUpdatesPerSec: 1 } } },
      {},
      { twinPacing: false },
    );
    try {
      const writes = await Promise.allSettled(
        ['device-0001', 'device-0002', 'device-0003'].map((deviceId) =>
          granted.azure.writers.twin.writePolicy({ deviceId, document: doc }),
        ),
      );
      const refused = writes
        .filter((w) => w.status === 'rejected')
        .map((w) => (w as PromiseRejectedResult).reason as AzureRequestError);
      assert.ok(refused.length >= 1);
      assert.ok(refused.every((e) => e.code === FailureType.Throttled && e.statusCode === 429));
    } finally {
      await granted.close();
    }
  });

  void it('503 → Transient with Retry-After; 500 → Transient', async () => {
    world.emulator.setProfile('calm', { transient: { error503Ratio: 1, retryAfterSeconds: 2 } });
    const e503 = await failure(world, 'arm');
    assert.equal(e503.code, FailureType.Transient);
    assert.equal(e503.statusCode, 503);
    assert.equal(e503.retryAfterInMs, 2000);
    world.emulator.setProfile('calm', { transient: { error500Ratio: 1 } });
    const e500 = await failure(world, 'twin');
    assert.equal(e500.code, FailureType.Transient);
    assert.equal(e500.statusCode, 500);
  });

  void it('a dropped connection → Transient', async () => {
    world.emulator.setProfile('calm', { transient: { dropConnectionRatio: 1 } });
    const e = await failure(world, 'arm');
    assert.equal(e.code, FailureType.Transient);
    assert.equal(e.statusCode, undefined);
    assert.match(e.message, /connection failed/);
  });

  void it('a timeout → Transient', async () => {
    await world.azure.armTokens.getToken(); // the token first: latency applies to Entra ID too
    world.emulator.setProfile('calm', { latency: { fixedMs: 8_000, jitterMs: 0 } });
    const e = await failure(world, 'arm');
    assert.equal(e.code, FailureType.Transient);
    assert.match(e.message, /timed out/);
    world.emulator.setProfile('calm');
  });

  void it('a wrong client secret (AADSTS7000215) → Misconfigured, not retryable, secret not in the message', async () => {
    const wrongSecret = 'abc8Q~wrong-secret-wrong-secret-wrong-12';
    const config = configFor(world.emulator, { AZURE_CLIENT_SECRET: wrongSecret });
    const dispatcher = createAzureAgent({ ca: world.emulator.caPem });
    const access = createAzureAccess(config, { dispatcher });
    try {
      await assert.rejects(
        access.writers.arm.writePolicy({ deviceId: 'device-0001', document: doc }),
        (e: unknown) => {
          assert.ok(isAzureRequestError(e));
          assert.equal(e.code, FailureType.Misconfigured);
          assert.equal(e.retryable, false);
          assert.equal(e.azureCode, 'AADSTS7000215');
          assert.match(e.message, /client secret is wrong or expired; set a valid AZURE_CLIENT_SECRET/);
          assert.ok(!e.message.includes(wrongSecret));
          return true;
        },
      );
    } finally {
      await dispatcher.close();
    }
  });

  void it('a tenant Entra ID does not know → Misconfigured naming AZURE_TENANT_ID; an authority nobody answers stays Transient', async () => {
    // The twin test trusted an emulator of its own: trust this file's one again.
    trustEmulator(world.emulator);
    const attempt = async (overrides: Record<string, string>) => {
      const dispatcher = createAzureAgent({ ca: world.emulator.caPem });
      const access = createAzureAccess(configFor(world.emulator, overrides), { dispatcher });
      try {
        await access.writers.arm.writePolicy({ deviceId: 'device-0001', document: doc });
      } catch (error) {
        assert.ok(isAzureRequestError(error), String(error));
        return error;
      } finally {
        await dispatcher.close();
      }
      assert.fail('the write succeeded');
    };

    const wrongTenant = await attempt({ AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111' });
    assert.equal(wrongTenant.code, FailureType.Misconfigured, wrongTenant.message);
    assert.equal(wrongTenant.retryable, false);
    assert.equal(wrongTenant.azureCode, 'AADSTS90002');
    assert.match(
      wrongTenant.message,
      /does not know the tenant AZURE_TENANT_ID='11111111-1111-4111-8111-111111111111'/,
    );

    // Port 9 on loopback: nothing listens, so the authority cannot be reached: that may heal.
    const unreachable = await attempt({ AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9' });
    assert.equal(unreachable.code, FailureType.Transient, unreachable.message);
  });
});
