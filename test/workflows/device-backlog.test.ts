import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceBacklog } from '../../src/workflows/device-backlog';

const device = (id: string) => ({ deviceId: id, policy: 'p' });
const inventory = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => device(`d${from + i}`));

void describe('DeviceBacklog', () => {
  void it('pages the inventory, batches reruns first, never one device twice in a batch', () => {
    const backlog = DeviceBacklog.ofInventory(5);
    assert.equal(backlog.needsPage(2), true);
    const page = backlog.nextPage(3)!;
    assert.deepEqual([page.offset, page.limit], [0, 3]);
    backlog.addPage(page, inventory(0, 3));
    assert.equal(backlog.enqueue(device('d1')), true);
    assert.equal(backlog.enqueue(device('d1')), false);
    assert.deepEqual(
      backlog.takeBatch(3).map((d) => d.deviceId),
      ['d1', 'd0', 'd2'],
    );
    assert.deepEqual(
      backlog.takeBatch(3).map((d) => d.deviceId),
      ['d1'],
    );
    assert.equal(backlog.needsPage(3), true);
    assert.equal(backlog.hasPending(), true);
  });

  void it('carries the buffered offsets and unread ranges, and restores them', () => {
    const backlog = DeviceBacklog.ofInventory(10);
    backlog.addPage(backlog.nextPage(4)!, inventory(0, 4));
    backlog.takeBatch(2);
    backlog.enqueue(device('x'));
    const carried = backlog.carried(10);
    assert.deepEqual(carried, {
      nextOffset: 2,
      inventoryRanges: [
        { from: 2, to: 4 },
        { from: 4, to: 10 },
      ],
      queued: [device('x')],
    });
    const restored = new DeviceBacklog(carried.inventoryRanges, carried.queued);
    assert.deepEqual(restored.carried(10), carried);
  });

  void it('keeps an observed page at its exact offsets, with the verdicts, and carries only those', () => {
    const backlog = DeviceBacklog.ofInventory(10);
    // Of offsets 0..5 the observation found d1, d4 (drifted) and d5 (not in the hub) not in sync.
    backlog.addObservedPage(
      backlog.nextPage(6)!,
      { devices: [device('d1'), device('d4'), device('d5')], offsets: [1, 4, 5], notInHub: ['d5'] },
      true,
    );
    backlog.enqueue(device('q'));
    assert.deepEqual(backlog.carried(10).inventoryRanges, [
      { from: 1, to: 2 },
      { from: 4, to: 6 },
      { from: 6, to: 10 },
    ]);
    const batch = backlog.takeJudgedBatch(3);
    assert.deepEqual(
      batch.devices.map((d) => d.deviceId),
      ['q', 'd1', 'd4'],
    );
    assert.deepEqual(
      [...batch.verdicts],
      [
        ['d1', 'drifted'],
        ['d4', 'drifted'],
      ],
    );
    assert.deepEqual([...backlog.takeJudgedBatch(3).verdicts], [['d5', 'notInHub']]);
    // A whole-inventory rerun adds back every offset taken, the in-sync ones included.
    assert.equal(backlog.readdTaken(10), 6);
  });

  void it('an unjudged page (the hub refused the bulk read) carries no verdicts', () => {
    const backlog = DeviceBacklog.ofInventory(3);
    backlog.addObservedPage(
      backlog.nextPage(3)!,
      { devices: inventory(0, 3), offsets: [0, 1, 2], notInHub: [] },
      false,
    );
    const batch = backlog.takeJudgedBatch(5);
    assert.equal(batch.devices.length, 3);
    assert.equal(batch.verdicts.size, 0);
  });

  void it('a whole-inventory rerun adds back exactly what was taken', () => {
    const backlog = DeviceBacklog.ofInventory(10);
    backlog.addPage(backlog.nextPage(6)!, inventory(0, 6));
    backlog.takeBatch(4); // d0..d3 taken; d4, d5 buffered; 6..10 unread
    assert.equal(backlog.readdTaken(10), 4);
    assert.deepEqual(backlog.carried(10).inventoryRanges, [
      { from: 4, to: 6 },
      { from: 6, to: 10 },
      { from: 0, to: 4 },
    ]);
  });

  void it('takeReadDevices empties queue and buffer, leaving the unread ranges', () => {
    const backlog = DeviceBacklog.ofInventory(6);
    backlog.addPage(backlog.nextPage(2)!, inventory(0, 2));
    backlog.enqueue(device('q'));
    assert.deepEqual(
      backlog.takeReadDevices().map((d) => d.deviceId),
      ['q', 'd0', 'd1'],
    );
    assert.equal(backlog.enqueue(device('q')), true);
    assert.deepEqual(backlog.carried(6).inventoryRanges, [{ from: 2, to: 6 }]);
  });
});
