import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ARM_SCOPE, IOT_HUB_SCOPE } from '../../src/azure/token-provider';
import { startTestWorld, type TestWorld } from './emulator-support';

const tokenRequests = (world: TestWorld) =>
  world.emulator.requestLog().filter((r) => r.method === 'POST' && r.path.endsWith('/oauth2/v2.0/token'))
    .length;

void describe('TokenProvider with the real @azure/identity against the emulator', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ profile: 'calm' });
  });
  after(async () => {
    await world.close();
  });

  void it("MSAL's cache alone would hand the refused token out again", async () => {
    const credential = world.azure.credentials.current;
    const a = await credential.getToken(ARM_SCOPE);
    const b = await credential.getToken(ARM_SCOPE);
    assert.equal(a?.token, b?.token);
  });

  void it('after invalidate(refused), the next getToken returns a genuinely new, newly issued token', async () => {
    const refused = await world.azure.armTokens.getToken();
    const requestsBefore = tokenRequests(world);
    assert.equal(world.azure.armTokens.invalidate(refused), true);
    const fresh = await world.azure.armTokens.getToken();
    assert.notEqual(fresh, refused);
    assert.equal(tokenRequests(world), requestsBefore + 1, 'one token request went to Entra ID');
    const issued = world.emulator.issuedTokens();
    assert.ok(issued.includes(refused) && issued.includes(fresh));
    assert.ok(issued.indexOf(fresh) > issued.indexOf(refused));
  });

  void it('50 concurrent refusals of one token cause one refresh', async () => {
    const refused = await world.azure.armTokens.getToken();
    const issuedBefore = world.emulator.issuedTokens().length;
    const tokens = await Promise.all(
      Array.from({ length: 50 }, async () => {
        world.azure.armTokens.invalidate(refused);
        return world.azure.armTokens.getToken();
      }),
    );
    assert.equal(new Set(tokens).size, 1);
    assert.notEqual(tokens[0], refused);
    assert.equal(world.emulator.issuedTokens().length, issuedBefore + 1);
  });

  void it('keeps one token per scope: ARM and IoT Hub tokens are distinct and each cached', async () => {
    const arm = await world.azure.armTokens.getToken();
    const hub = await world.azure.iotHubTokens.getToken();
    assert.notEqual(arm, hub);
    const before = tokenRequests(world);
    await Promise.all([world.azure.armTokens.getToken(), world.azure.iotHubTokens.getToken()]);
    assert.equal(tokenRequests(world), before);
    assert.equal(world.azure.iotHubTokens.scope, IOT_HUB_SCOPE);
  });
});

void describe('short-lived tokens are refreshed ahead of expiry', () => {
  void it('never presents an expired token', async () => {
    const world = await startTestWorld({ profile: 'calm', tokenLifetimeSeconds: 2 });
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        await world.azure.writers.arm.writePolicy({ deviceId: 'device-0001', document: { round: i } });
        seen.add(await world.azure.armTokens.getToken());
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(seen.size >= 2, 'tokens were renewed');
      assert.equal(
        world.emulator.requestLog().filter((r) => r.status === 401).length,
        0,
        'no request was refused as expired',
      );
    } finally {
      await world.close();
    }
  });
});
