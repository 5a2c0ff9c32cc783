import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyComplianceCounts } from '../../src/domain/compliance';
import { answerFailureEntries, complianceLine, nextAckWait } from '../../src/workflows/ack-plan';

void describe('acknowledgement phase: when to look again', () => {
  void it('5 s, 10 s, 20 s, 40 s, then every 60 s', () => {
    const waits = [0, 1, 2, 3, 4, 5, 9].map((checks) =>
      nextAckWait({ checks, lastQueries: 1, elapsedInMs: 0, deadlineInMs: 3_600_000 }),
    );
    assert.deepEqual(waits, [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  });

  void it("never sooner than the last look's queries take of the hub's 20 queries a minute", () => {
    // 100 pages of twins (100,000 devices): 5 minutes of budget.
    assert.equal(
      nextAckWait({ checks: 0, lastQueries: 100, elapsedInMs: 0, deadlineInMs: 3_600_000 }),
      300_000,
    );
    assert.equal(nextAckWait({ checks: 1, lastQueries: 3, elapsedInMs: 0, deadlineInMs: 3_600_000 }), 10_000);
  });

  void it('is cut at the deadline, and says stop once it passed', () => {
    assert.equal(
      nextAckWait({ checks: 2, lastQueries: 1, elapsedInMs: 15_000, deadlineInMs: 20_000 }),
      5_000,
    );
    assert.equal(
      nextAckWait({ checks: 2, lastQueries: 1, elapsedInMs: 20_000, deadlineInMs: 20_000 }),
      undefined,
    );
    assert.equal(nextAckWait({ checks: 0, lastQueries: 0, elapsedInMs: 0, deadlineInMs: 0 }), undefined);
  });
});

void describe('acknowledgement phase: how it reads', () => {
  void it('one line: applied of all, pending with offline, stale, rejected, device errors; zeros left out', () => {
    const counts = { ...emptyComplianceCounts(), applied: 287, pending: 3, offline: 5, rejected: 3 };
    assert.equal(complianceLine(counts), 'applied 287 of 298; 8 pending (5 offline); 3 rejected');
    assert.equal(
      complianceLine({ ...emptyComplianceCounts(), applied: 5, stale: 2, deviceError: 1 }),
      'applied 5 of 8; 2 stale (no answer by the deadline); 1 device error',
    );
    assert.equal(complianceLine(emptyComplianceCounts()), 'applied 0 of 0');
  });

  void it("failed entries carry the device's reason; those not listed are counted by code", () => {
    const listed = [
      { deviceId: 'a', code: 'DeviceRejected' as const, reason: "rule 'usb-off' unsupported" },
      { deviceId: 'b', code: 'DeviceError' as const, reason: 'settings store write failed' },
    ];
    assert.deepEqual(answerFailureEntries(listed, { rejected: 1, deviceError: 1 }), [
      { deviceId: 'a', code: 'DeviceRejected', message: "rule 'usb-off' unsupported" },
      { deviceId: 'b', code: 'DeviceError', message: 'settings store write failed' },
    ]);
    const entries = answerFailureEntries(listed, { rejected: 4, deviceError: 1 });
    assert.equal(entries.length, 3);
    assert.equal(entries[2]?.deviceId, '*');
    assert.equal(entries[2]?.code, 'NotListed');
    assert.match(
      entries[2]?.message ?? '',
      /^3 more devices refused or failed the policy, not listed \(DeviceRejected 3\)/,
    );
  });
});
