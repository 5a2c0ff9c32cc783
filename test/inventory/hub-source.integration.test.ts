import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inventorySourceOptions } from '../../src/activities/deps';
import { queryHubDevices } from '../../src/inventory/hub-source';
import { InventoryStore, loadInventory } from '../../src/inventory/inventory';
import { startTestWorld, type TestWorld } from '../azure/emulator-support';

void describe('INVENTORY_SOURCE=hub against the emulator', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ devices: 250 }, { INVENTORY_SOURCE: 'hub' });
  });
  after(async () => {
    await world.close();
  });

  void it('pages through the device query with x-ms-continuation', async () => {
    const rows = [];
    for await (const row of queryHubDevices({
      http: world.azure.http,
      tokens: world.azure.iotHubTokens,
      hubHost: world.config.hub.host,
      pageSize: 100,
    })) {
      rows.push(row);
    }
    assert.equal(rows.length, 250);
    assert.deepEqual(rows[0], { row: 1, deviceId: 'device-0001', policy: 'baseline' });
    const queries = world.emulator.requestLog().filter((r) => r.path.startsWith('/devices/query'));
    assert.equal(queries.length, 3);
  });

  void it("rejects hub devices named '.' or '..' (a registry's ids are input too) and loads the rest", async () => {
    world.emulator.registerDevices(['..', '.', '%2E']);
    try {
      const inventory = await loadInventory(inventorySourceOptions(world.config, world.azure));
      assert.equal(inventory.devices.length, 250);
      assert.ok(inventory.devices.every((d) => d.deviceId.startsWith('device-')));
      assert.deepEqual(
        inventory.rejected.map((r) => /deviceId '(.*?)' is a relative path segment/.exec(r.reason)?.[1]),
        ['..', '.', '%2E'],
      );
    } finally {
      world.emulator.reset({ devices: 250 });
    }
  });

  void it('loads a validated snapshot, tags.securityPolicy naming the policy', async () => {
    const inventory = await loadInventory(inventorySourceOptions(world.config, world.azure));
    assert.equal(inventory.devices.length, 250);
    assert.deepEqual(inventory.rejected, []);
    assert.deepEqual(inventory.devices[3], { deviceId: 'device-0004', policy: 'strict' });

    const store = new InventoryStore(inventorySourceOptions(world.config, world.azure));
    const { snapshot } = await store.load();
    assert.equal(snapshot.id, inventory.id, 'the same hub content gives the same snapshot id');
  });
});
