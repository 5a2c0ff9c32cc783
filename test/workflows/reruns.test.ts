import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restoreState } from '../../src/workflows/carried-state';
import { DeviceBacklog } from '../../src/workflows/device-backlog';
import {
  RERUN_REJECTIONS_LISTED,
  rerunDevices,
  rerunScope,
  rerunWholeInventory,
  unknownDeviceRejections,
} from '../../src/workflows/reruns';

const device = (id: string) => ({ deviceId: id, policy: 'p' });
const failure = (id: string) => ({
  deviceId: id,
  code: 'DeviceNotFound' as const,
  message: `gone ${id}`,
  attempts: 1,
});

void describe('reruns', () => {
  void it('scopes a request: refused, whole inventory, failed only, a list', () => {
    const failed = new Set(['a', 'b']);
    assert.equal(rerunScope({ deviceIds: 'x' as unknown as string[] }, failed, false).kind, 'refused');
    assert.equal(rerunScope({}, failed, true).kind, 'refused');
    assert.deepEqual(rerunScope({}, failed, false), { kind: 'wholeInventory' });
    assert.deepEqual(rerunScope({ failedOnly: true }, failed, false), {
      kind: 'devices',
      deviceIds: ['a', 'b'],
    });
    assert.deepEqual(rerunScope({ failedOnly: true, deviceIds: ['b', 'c', 'b'] }, failed, false), {
      kind: 'devices',
      deviceIds: ['b'],
    });
    assert.deepEqual(rerunScope({ deviceIds: ['c', 'c'] }, failed, false), {
      kind: 'devices',
      deviceIds: ['c'],
    });
  });

  void it('lists unknown ids with their row, and counts those past the limit', () => {
    const unknown = Array.from({ length: RERUN_REJECTIONS_LISTED + 3 }, (_, i) => `u${i}`);
    const rejections = unknownDeviceRejections({ deviceIds: ['known', ...unknown] }, unknown);
    assert.equal(rejections.length, RERUN_REJECTIONS_LISTED + 1);
    assert.deepEqual(rejections[0], { source: 'rerun', row: 2, reason: 'Device u0 is not in the inventory' });
    assert.match(rejections.at(-1)!.reason, /^3 more device ids/);
  });

  void it('a list rerun takes failed devices off the books and queues them, plus extra writes', () => {
    const state = restoreState(undefined, new Date(0));
    state.backlog = DeviceBacklog.ofInventory(0);
    state.nextBatchNumber = 3;
    state.counters = { ...state.counters, devicesTotal: 2, devicesDone: 2, failureCount: 2 };
    state.failures.add(failure('a'));
    state.failures.add(failure('b'));
    rerunDevices(
      state,
      { deviceIds: ['a', 'c', 'z'] },
      { devices: [device('a'), device('c')], unknown: ['z'] },
      new Set(['a', 'b']),
    );
    assert.deepEqual(state.failures.deviceIds(), ['b']);
    assert.deepEqual(state.backlog.carried(0).queued, [device('a'), device('c')]);
    assert.equal(state.counters.failureCount, 1);
    assert.equal(state.counters.devicesTotal, 3);
    assert.deepEqual(state.rejected, [
      { source: 'rerun', row: 3, reason: 'Device z is not in the inventory' },
    ]);
  });

  void it('before the first batch, devices that did not fail are no extra writes', () => {
    const state = restoreState(undefined, new Date(0));
    rerunDevices(state, { deviceIds: ['c'] }, { devices: [device('c')], unknown: [] }, new Set());
    assert.deepEqual(state.backlog.carried(0).queued, []);
  });

  void it('a whole-inventory rerun clears the failures and plans the taken devices again', () => {
    const state = restoreState(undefined, new Date(0));
    state.snapshot = { id: 's', deviceCount: 4 };
    state.backlog = new DeviceBacklog([{ from: 3, to: 4 }]);
    state.counters = { ...state.counters, devicesTotal: 4, devicesDone: 3, failureCount: 1 };
    state.failures.add(failure('a'));
    rerunWholeInventory(state);
    assert.equal(state.failures.size, 0);
    assert.equal(state.counters.failureCount, 0);
    // The failed device comes off the books (4 - 1), then the 3 taken devices are planned again.
    assert.equal(state.counters.devicesTotal, 6);
    assert.equal(state.counters.devicesDone, 2);
    assert.deepEqual(state.backlog.carried(4).inventoryRanges, [
      { from: 3, to: 4 },
      { from: 0, to: 3 },
    ]);
  });
});
