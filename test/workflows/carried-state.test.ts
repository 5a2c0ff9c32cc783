import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { carryState, restoreState, startFromInventory } from '../../src/workflows/carried-state';
import type { CarriedState } from '../../src/workflows/types';

void describe('carried state', () => {
  void it('a fresh sync starts empty at its start time; loading plans every device and lists the refused', () => {
    const state = restoreState(undefined, new Date(1_000));
    assert.equal(state.startedAt, new Date(1_000).toISOString());
    assert.equal(state.snapshot, undefined);
    startFromInventory(state, {
      snapshot: { id: 's', deviceCount: 3 },
      rejected: [{ source: 'devices.csv', row: 2, reason: 'bad' }],
      rejectedCount: 4,
    });
    assert.equal(state.counters.devicesTotal, 3);
    assert.deepEqual(state.rejected.at(-1), {
      source: 'inventory',
      row: 0,
      reason: '3 more rejected rows not listed',
    });
    assert.deepEqual(carryState(state).inventoryRanges, [{ from: 0, to: 3 }]);
  });

  void it('what is carried is restored as it was', () => {
    const state = restoreState(undefined, new Date(0));
    startFromInventory(state, { snapshot: { id: 's', deviceCount: 10 }, rejected: [], rejectedCount: 0 });
    state.backlog.addPage(state.backlog.nextPage(5)!, [
      { deviceId: 'a', policy: 'p' },
      { deviceId: 'b', policy: 'p' },
      { deviceId: 'c', policy: 'p' },
      { deviceId: 'd', policy: 'p' },
      { deviceId: 'e', policy: 'p' },
    ]);
    state.backlog.takeBatch(2);
    state.nextBatchNumber = 2;
    state.failures.add({ deviceId: 'a', code: 'Timeout', message: 'a timed out', attempts: 3 });
    state.paused = true;
    const carried = carryState(state);
    assert.equal(carried.nextOffset, 2);
    assert.deepEqual(carryState(restoreState(structuredClone(carried), new Date(5))), carried);
  });

  void it('restores runs that carried only nextOffset and a failure list', () => {
    const old: CarriedState = {
      ...carryState(restoreState(undefined, new Date(0))),
      inventorySnapshot: { id: 's', deviceCount: 8 },
      nextOffset: 5,
      inventoryRanges: undefined,
      failureLedger: undefined,
      failures: [{ deviceId: 'x', code: 'DeviceNotFound', message: 'x is gone', attempts: 1 }],
    };
    const state = restoreState(old, new Date(0));
    assert.deepEqual(carryState(state).inventoryRanges, [{ from: 5, to: 8 }]);
    assert.deepEqual(state.failures.deviceIds(), ['x']);
  });
});
