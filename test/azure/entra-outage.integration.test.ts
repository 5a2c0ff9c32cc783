/**
 * A short Entra ID outage heals: the token endpoint answers 500 AADSTS50000, after which MSAL refuses
 * further token requests itself for a while (its throttling cache) without asking Entra ID. Both forms must
 * be Transient, so the activity's retry policy keeps going instead of failing the sync for good.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isAzureRequestError } from '../../src/azure/errors';
import { FailureType } from '../../src/domain/failure-codes';
import { startTestWorld, type TestWorld } from './emulator-support';

const policy = { version: 1 };

void describe('an Entra ID outage', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ devices: 3, faults: { entra: { outageMs: 60_000, outageStatus: 500 } } });
  });
  after(async () => {
    await world.close();
  });

  const tokenRequests = (): number =>
    world.emulator.requestLog().filter((r) => r.path.endsWith('/oauth2/v2.0/token')).length;

  void it("is Transient on Entra ID's 500 and on MSAL's cached replay of it, on both targets", async () => {
    for (const target of ['arm', 'twin'] as const) {
      for (let attempt = 1; attempt <= 3; attempt++) {
        await assert.rejects(
          world.azure.writers[target].writePolicy({ deviceId: 'device-0001', document: policy }),
          (e: unknown) => {
            assert.ok(isAzureRequestError(e));
            assert.equal(e.code, FailureType.Transient, `${target} attempt ${attempt}: ${e.message}`);
            assert.equal(e.retryable, true);
            assert.match(e.message, /will retry/);
            return true;
          },
        );
      }
    }
    assert.ok(
      world.emulator.state().faults.entraOutage >= 1,
      'the emulator refused at least one token request',
    );
    const before = tokenRequests();
    await assert.rejects(world.azure.writers.arm.writePolicy({ deviceId: 'device-0002', document: policy }));
    assert.ok(tokenRequests() - before <= 1);
  });
});

void describe('a short Entra ID outage (3 s, Retry-After 1)', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({
      devices: 3,
      faults: { entra: { outageMs: 3_000, outageStatus: 503, outageRetryAfterSeconds: 1 } },
    });
  });
  after(async () => {
    await world.close();
  });

  void it('heals: attempts are Transient until Entra ID answers again, then the write goes through', async () => {
    let transient = 0;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const result = await world.azure.writers.twin.writePolicy({
          deviceId: 'device-0003',
          document: policy,
        });
        assert.equal(result.status, 'succeeded');
        break;
      } catch (error) {
        assert.ok(isAzureRequestError(error) && error.code === FailureType.Transient, String(error));
        transient += 1;
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    // @azure/identity's own pipeline retries a 5xx with Retry-After, so the outage may heal within one attempt.
    assert.ok(transient + world.emulator.state().faults.entraOutage >= 1, 'the outage was met');
    assert.deepEqual(world.emulator.state().devices['device-0003']?.twinPolicy, policy);
  });
});
