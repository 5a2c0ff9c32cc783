import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  comparableObservation,
  ObservationUnsupportedError,
  type ObservedDevice,
} from '../../src/azure/observation';
import { ObservationStore, type ObservationKey } from '../../src/azure/observation-store';

const baseline = { version: 3, rules: [{ id: 'tls', value: '1.2' }] };
const key: ObservationKey = { hub: 'hub-a', target: 'twin', snapshotId: 'inv-1' };

/** A fake bulk read that counts how often it ran. */
function fakeObserve(devices: ObservedDevice[] | Error): {
  calls: ObservationKey[];
  observe: (key: ObservationKey) => AsyncIterable<ObservedDevice>;
} {
  const calls: ObservationKey[] = [];
  return {
    calls,
    observe: (k) => {
      calls.push(k);
      return (async function* () {
        await new Promise((r) => setTimeout(r, 10));
        if (devices instanceof Error) throw devices;
        yield* devices;
      })();
    },
  };
}

void describe('ObservationStore', () => {
  const fleet: ObservedDevice[] = [
    { deviceId: 'd1', document: { rules: [{ value: '1.2', id: 'tls' }], version: 3 } },
    { deviceId: 'd2', document: { version: 1 } },
    { deviceId: 'd3', document: null, etag: 'AAAA' },
  ];

  void it('observes once for concurrent and later questions, and answers isInSync by content', async () => {
    const fake = fakeObserve(fleet);
    const store = new ObservationStore({ observe: fake.observe });
    const answers = await Promise.all([
      store.isInSync(key, 'd1', baseline),
      store.isInSync(key, 'd2', baseline),
      store.isInSync(key, 'd3', baseline),
      store.isInSync(key, 'ghost', baseline),
    ]);
    assert.deepEqual(answers, [true, false, false, false]);
    assert.deepEqual(await store.observed(key, 'd3'), { deviceId: 'd3', document: null, etag: 'AAAA' });
    assert.equal(await store.observed(key, 'ghost'), null);
    assert.equal(fake.calls.length, 1, 'one bulk read for all of these');
  });

  void it('keys by hub, target and snapshot; evicts the oldest past its size and observes it again', async () => {
    const fake = fakeObserve(fleet);
    const store = new ObservationStore({ observe: fake.observe, maxCachedObservations: 2 });
    await store.get(key);
    await store.get({ ...key, target: 'arm' });
    await store.get({ ...key, snapshotId: 'inv-2' });
    assert.equal(fake.calls.length, 3);
    await store.get({ ...key, snapshotId: 'inv-2' });
    assert.equal(fake.calls.length, 3, 'still in memory');
    await store.get(key);
    assert.equal(fake.calls.length, 4, 'the oldest was evicted and is observed again');
  });

  void it('answers undefined (ask the device) where the bulk read is unsupported', async () => {
    const fake = fakeObserve(new ObservationUnsupportedError('arm', 405, 'MethodNotAllowed', 'no list'));
    const store = new ObservationStore({ observe: fake.observe });
    assert.equal(await store.isInSync(key, 'd1', baseline), undefined);
    assert.equal(await store.observed(key, 'd1'), undefined);
    assert.equal(fake.calls.length, 1, 'unsupported is remembered too');
  });

  void it('does not keep a failed observation: the next question observes again', async () => {
    let fail = true;
    const calls: number[] = [];
    const store = new ObservationStore({
      observe: () => {
        calls.push(1);
        return (async function* () {
          if (fail) throw new Error('throttled for too long');
          yield* fleet;
        })();
      },
    });
    await assert.rejects(store.isInSync(key, 'd1', baseline), /throttled/);
    fail = false;
    assert.equal(await store.isInSync(key, 'd1', baseline), true);
    assert.equal(calls.length, 2);
  });
});

void describe('ARM observations compare in the desired document own form', () => {
  const envelope = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Devices/IotHubs/h/securityPolicies/d1',
    name: 'd1',
    type: 'Microsoft.Devices/IotHubs/securityPolicies',
    properties,
    systemData: { createdAt: '2026-01-01T00:00:00Z' },
    ...extra,
  });
  const armKey: ObservationKey = { hub: 'hub-a', target: 'arm', snapshotId: 'inv-1' };

  void it('a bare and a resource-form document both match the resource written from them', async () => {
    const resource = envelope({ ...baseline, provisioningState: 'Succeeded' }, { tags: { site: 'north' } });
    const observed: ObservedDevice = { deviceId: 'd1', document: baseline, resource };
    const store = new ObservationStore({ observe: fakeObserve([observed]).observe });
    assert.equal(await store.isInSync(armKey, 'd1', baseline), true);
    assert.equal(await store.isInSync(armKey, 'd1', { properties: baseline }), true);
    assert.equal(await store.isInSync(armKey, 'd1', { properties: baseline, tags: { site: 'north' } }), true);
    assert.equal(
      await store.isInSync(armKey, 'd1', { properties: baseline, tags: { site: 'south' } }),
      false,
    );
    assert.equal(await store.isInSync(armKey, 'd1', { properties: { version: 4 } }), false);
  });

  void it('comparableObservation leaves a failed provisioning state in, so the device is written again', () => {
    const resource = envelope({ ...baseline, provisioningState: 'Failed' });
    const pair = comparableObservation({ deviceId: 'd1', document: baseline, resource }, baseline);
    assert.notDeepEqual(pair.observed, pair.desired);
  });
});
