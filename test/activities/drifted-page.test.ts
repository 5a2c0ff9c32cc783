import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driftedPage, judgeDevices } from '../../src/activities/drifted-page';
import { ObservationUnsupportedError, type ObservedDevice } from '../../src/azure/observation';
import { ObservationStore, type ObservationKey } from '../../src/azure/observation-store';

const policies: Record<string, Record<string, unknown>> = {
  a: { version: 1, rules: ['tls'] },
  b: { version: 2 },
};
const page = [
  { deviceId: 'd1', policy: 'a' }, // holds a, key order differs: in sync
  { deviceId: 'd2', policy: 'b' }, // holds a: update
  { deviceId: 'd3', policy: 'a' }, // holds nothing: create
  { deviceId: 'd4', policy: 'b' }, // not listed
];
const fleet: ObservedDevice[] = [
  { deviceId: 'd1', document: { rules: ['tls'], version: 1 } },
  { deviceId: 'd2', document: { version: 1, rules: ['tls'] } },
  { deviceId: 'd3', document: null },
];

function store(devices: ObservedDevice[] | Error): { store: ObservationStore; keys: ObservationKey[] } {
  const keys: ObservationKey[] = [];
  return {
    keys,
    store: new ObservationStore({
      observe: (key) => {
        keys.push(key);
        return (async function* () {
          await Promise.resolve();
          if (devices instanceof Error) throw devices;
          yield* devices;
        })();
      },
    }),
  };
}

const documentOf = async (policy: string) => policies[policy]!;

void describe('readDriftedInventoryPage logic', () => {
  void it('judges in sync by content; twin: an unlisted device is not in the hub', async () => {
    const { store: s } = store(fleet);
    const key: ObservationKey = { hub: 'h', target: 'twin', snapshotId: 'inv-1', syncId: 's1' };
    const verdicts = await judgeDevices(page, { store: s, key, documentOf, listsEveryDevice: true });
    assert.deepEqual(verdicts, ['inSync', 'drifted', 'drifted', 'notInHub']);
    assert.deepEqual(driftedPage(page, 100, verdicts), {
      devices: page.slice(1),
      offsets: [101, 102, 103],
      unchanged: 1,
      notInHub: ['d4'],
      observation: 'bulk',
    });
  });

  void it('arm: an unlisted device holds no policy (absent: a create, written without a read)', async () => {
    const { store: s } = store(fleet);
    const key: ObservationKey = { hub: 'h', target: 'arm', snapshotId: 'inv-1', syncId: 's1' };
    const verdicts = await judgeDevices(page, { store: s, key, documentOf, listsEveryDevice: false });
    assert.deepEqual(verdicts, ['inSync', 'drifted', 'drifted', 'absent']);
    assert.deepEqual(driftedPage(page, 0, verdicts).absent, ['d4']);
    assert.equal(driftedPage(page, 0, verdicts).notInHub.length, 0);
  });

  void it('observes once per sync: later pages share it, another sync of the same snapshot observes again', async () => {
    const { store: s, keys } = store(fleet);
    const options = (syncId: string) => ({
      store: s,
      key: { hub: 'h', target: 'twin' as const, snapshotId: 'inv-1', syncId },
      documentOf,
      listsEveryDevice: true,
    });
    await Promise.all([judgeDevices(page, options('s1')), judgeDevices(page.slice(2), options('s1'))]);
    await judgeDevices(page, options('s1'));
    assert.equal(keys.length, 1);
    await judgeDevices(page, options('s2'));
    assert.equal(keys.length, 2, 'a new sync does not reuse an earlier observation');
  });

  void it("a hub without the bulk read: every device of the page, 'unsupported'", async () => {
    const { store: s } = store(new ObservationUnsupportedError('arm', 405, 'MethodNotAllowed', 'no list'));
    const key: ObservationKey = { hub: 'h', target: 'arm', snapshotId: 'inv-1', syncId: 's1' };
    const verdicts = await judgeDevices(page, { store: s, key, documentOf, listsEveryDevice: false });
    assert.equal(verdicts, 'unsupported');
    assert.deepEqual(driftedPage(page, 0, verdicts), {
      devices: page,
      offsets: [0, 1, 2, 3],
      unchanged: 0,
      notInHub: [],
      observation: 'unsupported',
    });
  });
});
