/**
 * The arm target finds a device that already holds its policy, whichever form the document is written in:
 * two runs back to back write each device once. Against the emulator, which answers a GET with ARM's
 * standard envelope (id, name, type, properties, systemData).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestWorld, type TestWorld } from './emulator-support';

const DEVICES = 20;
const deviceIds = Array.from({ length: DEVICES }, (_, i) => `device-${String(i + 1).padStart(4, '0')}`);
const policy = { version: 7, rules: [{ id: 'ssh-off', setting: 'services.ssh', value: 'disabled' }] };

void describe('arm target: a second run of 20 devices finds them unchanged', () => {
  let world: TestWorld;
  before(async () => {
    world = await startTestWorld({ devices: DEVICES, profile: 'calm' });
  });
  after(async () => {
    await world.close();
  });

  const armWrites = () =>
    Object.values(world.emulator.state().devices).reduce((sum, device) => sum + device.armWrites, 0);
  const run = async (document: Record<string, unknown>) => {
    const results = await Promise.all(
      deviceIds.map((deviceId) => world.azure.writers.arm.writePolicy({ deviceId, document })),
    );
    return results.map((r) => r.status);
  };

  const forms: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['the bare policy (the seed contract)', policy, policy],
    [
      "ARM's resource form {properties}",
      { properties: { ...policy, version: 8 } },
      { ...policy, version: 8 },
    ],
  ];
  for (const [form, document, stored] of forms) {
    void it(`written as ${form}`, async () => {
      const before = armWrites();
      assert.deepEqual(await run(document), Array(DEVICES).fill('succeeded'));
      assert.equal(armWrites(), before + DEVICES);
      for (const deviceId of deviceIds)
        assert.deepEqual(world.emulator.state().devices[deviceId]?.policy, stored, deviceId);
      assert.deepEqual(await run(document), Array(DEVICES).fill('unchanged'));
      assert.equal(armWrites(), before + DEVICES, 'the second run wrote nothing');
    });
  }
});
