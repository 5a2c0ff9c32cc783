/**
 * FailureLedger: failed devices stored once per cause, rebuilt exactly, listed within Temporal's payload limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  failedDeviceCount,
  FailureLedger,
  FULL_MESSAGES_BUDGET,
  LISTING_BUDGET,
  listedDevices,
  NOT_LISTED_CODE,
  NOT_LISTED_DEVICE_ID,
  utf8Length,
} from '../../src/workflows/failure-ledger';
import { sanitizeMessage } from '../../src/workflows/device-outcome';
import type { DeviceFailure } from '../../src/workflows/types';

/** Temporal's default limit on one payload (limit.blobSize.error). */
const PAYLOAD_LIMIT = 2 * 1024 * 1024;

function notFound(deviceId: string, attempts = 1): DeviceFailure {
  return {
    deviceId,
    code: 'DeviceNotFound',
    message:
      `404 DeviceNotFound writing the security policy of device '${deviceId}' in hub 'hub-x': the device is ` +
      `not registered in the hub. Remove it from the inventory or register it. (${deviceId} was not found)`,
    attempts,
  };
}

function stale(count: number, idLength = 20): DeviceFailure[] {
  return Array.from({ length: count }, (_, i) => notFound(`stale-${String(i).padStart(idLength - 6, '0')}`));
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** Same device ids in the same order (without printing thousands of ids when not). */
const sameIds = (a: DeviceFailure[], b: DeviceFailure[]) =>
  a.length === b.length && a.every((f, i) => f.deviceId === b[i]!.deviceId);

void describe('FailureLedger', () => {
  void it('gives back exactly what it was given, in order, whatever the messages hold', () => {
    const failures: DeviceFailure[] = [
      notFound('dev-1'),
      notFound('dev-2', 3),
      { deviceId: 'dev-3', code: 'Aborted', message: 'Not attempted: the sync was aborted', attempts: 0 },
      { deviceId: 'dev-4', code: 'Aborted', message: 'Not attempted: the sync was aborted', attempts: 0 },
      { deviceId: 'dev-5', code: 'Timeout', message: 'dev-5 and dev-55 timed out', attempts: 2 },
      {
        deviceId: 'dev-6',
        code: 'Misconfigured',
        message: 'holds the placeholder \u241f of dev-6',
        attempts: 1,
      },
      { deviceId: 'dev-7', code: 'Error', message: '', attempts: 1 },
    ];
    const ledger = FailureLedger.fromFailures(failures);
    assert.deepEqual(ledger.list(), failures);
    // Through continue-as-new: the carried state, serialized, makes the same ledger.
    const carried = new FailureLedger(JSON.parse(JSON.stringify(ledger.state())));
    assert.deepEqual(carried.list(), failures);
    assert.equal(ledger.state().causes.filter((c) => c.code === 'DeviceNotFound').length, 1);
    assert.equal(ledger.state().causes.filter((c) => c.code === 'Aborted').length, 1);
  });

  void it('carries 12,000 failures in a fraction of what the list took (which broke continue-as-new)', () => {
    const failures = stale(12_000);
    assert.ok(bytes(failures) > PAYLOAD_LIMIT, `the plain list: ${bytes(failures)} bytes`);
    const state = FailureLedger.fromFailures(failures).state();
    assert.ok(bytes(state) < 0.2 * PAYLOAD_LIMIT, `the ledger: ${bytes(state)} bytes`);
  });

  void it('lists every device of 10,000, full messages first, then references to the entry of the same cause', () => {
    const failures = stale(10_000);
    const list = FailureLedger.fromFailures(failures).list();
    assert.ok(bytes(list) < PAYLOAD_LIMIT, `${bytes(list)} bytes`);
    assert.ok(sameIds(listedDevices(list), failures), 'every device, in order');
    assert.equal(list.length, failures.length, 'no entry counting unlisted devices');
    assert.deepEqual(list[0], failures[0]);
    const full = list.filter((f, i) => f.message === failures[i]!.message).length;
    assert.ok(full > 100 && full < failures.length, `${full} with their own message`);
    const later = list.at(-1)!;
    assert.equal(later.message, 'same cause as entry 1');
    assert.equal(later.code, 'DeviceNotFound');
    assert.ok(
      bytes(list.slice(0, full)) <= FULL_MESSAGES_BUDGET + bytes(list[full - 1]),
      'full messages within their budget',
    );
  });

  void it('past the listing budget, counts the rest by code in one last entry; nothing vanishes', () => {
    const failures = [...stale(25_000, 128)];
    failures.push(
      ...Array.from({ length: 5_000 }, (_, i) => ({
        deviceId: `late-${i}`,
        code: 'Aborted' as const,
        message: 'Not attempted',
        attempts: 0,
      })),
    );
    const list = FailureLedger.fromFailures(failures).list();
    assert.ok(bytes(list) < LISTING_BUDGET + 4_096, `${bytes(list)} bytes`);
    const named = listedDevices(list);
    const last = list.at(-1)!;
    assert.equal(last.deviceId, NOT_LISTED_DEVICE_ID);
    assert.equal(last.code, NOT_LISTED_CODE);
    const notListed = failures.length - named.length;
    assert.match(
      last.message,
      new RegExp(`^${notListed} more failed devices not listed \\(DeviceNotFound \\d+, Aborted 5000\\)`),
    );
    const counted = [...last.message.matchAll(/(\w+) (\d+)[,)]/g)].reduce((sum, m) => sum + Number(m[2]), 0);
    assert.equal(counted, notListed, 'the codes add up');
    assert.ok(sameIds(named, failures.slice(0, named.length)), 'the first ones listed, in order');
  });

  void it('keeps one cause when the 300-character cut falls inside a device id (ids of any length)', () => {
    // The emulator's (and ARM's) DeviceNotFound names the device twice; sanitizeMessage cuts at 300 characters.
    const shaped = (deviceId: string): DeviceFailure => ({
      deviceId,
      code: 'DeviceNotFound',
      message: sanitizeMessage(
        `404 DeviceNotFound writing the security policy of device '${deviceId}': the device is not registered in ` +
          `the hub. Remove it from the inventory or register it. Azure said: DeviceNotFound: The device ` +
          `'${deviceId}' does not exist in IoT hub 'hub-emulated'.`,
      ),
      attempts: 1,
    });
    for (const idLength of [20, 64, 80, 100, 128]) {
      const failures = Array.from({ length: 6_000 }, (_, i) => shaped(`${i}-`.padEnd(idLength, 'f')));
      const ledger = FailureLedger.fromFailures(failures);
      const state = ledger.state();
      assert.ok(state.causes.length <= 3, `ids of ${idLength}: ${state.causes.length} causes`);
      assert.ok(bytes(state) < 0.5 * PAYLOAD_LIMIT, `ids of ${idLength}: ${bytes(state)} bytes`);
      // What is listed still names the device, whole.
      const listed = ledger.list()[4_321]!;
      assert.equal(listed.deviceId, failures[4_321]!.deviceId);
    }
    const cut = FailureLedger.fromFailures([shaped('x'.repeat(70))]).list()[0]!.message;
    assert.ok(cut.endsWith('…') && cut.includes(`device '${'x'.repeat(70)}'`), cut);
  });

  void it('drops the causes no device has any more', () => {
    const ledger = FailureLedger.fromFailures([
      { deviceId: 'a', code: 'Timeout', message: 'a timed out', attempts: 3 },
      { deviceId: 'b', code: 'InvalidPolicy', message: 'refused', attempts: 1 },
      { deviceId: 'c', code: 'Timeout', message: 'c timed out', attempts: 3 },
    ]);
    assert.equal(ledger.state().causes.length, 2);
    ledger.remove(new Set(['a', 'c']));
    assert.deepEqual(ledger.state(), {
      causes: [{ code: 'InvalidPolicy', template: 'refused', perDevice: false }],
      devices: [['b', 0, 1]],
    });
    ledger.add({ deviceId: 'c', code: 'Timeout', message: 'c timed out', attempts: 4 });
    assert.deepEqual(ledger.list(), [
      { deviceId: 'b', code: 'InvalidPolicy', message: 'refused', attempts: 1 },
      { deviceId: 'c', code: 'Timeout', message: 'c timed out', attempts: 4 },
    ]);
  });

  void it('takes devices off the books and counts by code', () => {
    const ledger = FailureLedger.fromFailures([
      notFound('a'),
      { deviceId: 'b', code: 'AuthorizationFailed', message: '403 for b', attempts: 10 },
      { deviceId: 'c', code: 'AuthorizationFailed', message: '403 for c', attempts: 10 },
    ]);
    assert.equal(ledger.countWithCode('AuthorizationFailed'), 2);
    assert.equal(ledger.remove(new Set(['b', 'zzz'])), 1);
    assert.deepEqual(ledger.deviceIds(), ['a', 'c']);
    assert.equal(ledger.list()[1]!.message, '403 for c');
    assert.equal(ledger.clear(), 2);
    assert.equal(ledger.size, 0);
    assert.deepEqual(ledger.list(), []);
  });

  void it('budgets in UTF-8 bytes, and lists within a smaller budget when asked', () => {
    assert.equal(utf8Length('aé€😀'), 1 + 2 + 3 + 4);
    const list = FailureLedger.fromFailures(stale(2_000)).list(50_000);
    assert.ok(bytes(list) < 50_000 + 1_024, `${bytes(list)} bytes`);
    assert.equal(list.at(-1)!.code, NOT_LISTED_CODE);
    assert.deepEqual(
      FailureLedger.fromFailures(stale(3))
        .list(0)
        .map((f) => f.code),
      [NOT_LISTED_CODE],
    );
  });

  void it('counts the failed devices of a summary, listed or not', () => {
    assert.equal(failedDeviceCount({ devicesTotal: 30_000, succeeded: 10, unchanged: 5 }), 29_985);
  });
});
