import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addComplianceCounts,
  classifyCompliance,
  ComplianceInputError,
  countCompliance,
  emptyComplianceCounts,
  maxReasonLength,
  type DeviceComplianceInput,
} from '../../src/domain/compliance';

const policy = { version: 3, rules: [{ id: 'tls-min', setting: 'tls.minVersion', value: '1.2' }] };
const connected = { connectionState: 'Connected', ackDeadlinePassed: false } as const;

function classify(input: Partial<DeviceComplianceInput>): ReturnType<typeof classifyCompliance> {
  return classifyCompliance({ ...connected, writtenVersion: 7, ...input });
}

void describe('classifyCompliance: the writable-property convention', () => {
  void it('ac 200 answering our $version: applied', () => {
    assert.deepEqual(classify({ reported: { value: policy, ac: 200, av: 7, ad: 'applied' } }), {
      status: 'applied',
    });
  });

  void it('ac 200 answering a later $version (av > written): applied', () => {
    assert.deepEqual(classify({ reported: { value: policy, ac: 200, av: 9 } }), { status: 'applied' });
  });

  void it('ac 200 with a value other than ours: applied, as av says which write it took', () => {
    assert.deepEqual(classify({ reported: { value: { version: 2 }, ac: 200, av: 7 } }), {
      status: 'applied',
    });
    assert.deepEqual(classify({ reported: { ac: 200, av: 7 } }), { status: 'applied' }, 'value absent');
  });

  void it('an answer to an older write (av < written): pending, offline or stale like no answer', () => {
    const older = { value: policy, ac: 200, av: 6, ad: 'applied' };
    assert.deepEqual(classify({ reported: older }), { status: 'pending' });
    assert.deepEqual(classify({ reported: older, connectionState: 'Disconnected' }), { status: 'offline' });
    assert.deepEqual(classify({ reported: older, ackDeadlinePassed: true }), { status: 'stale' });
    assert.deepEqual(classify({ reported: { ac: 400, av: 6, ad: 'old refusal' } }), { status: 'pending' });
  });

  void it('ac 202 (in progress) and 203 (set by the device, av 0): not final', () => {
    assert.deepEqual(classify({ reported: { value: policy, ac: 202, av: 7, ad: 'applying' } }), {
      status: 'pending',
    });
    assert.deepEqual(classify({ reported: { value: policy, ac: 202, av: 7 }, ackDeadlinePassed: true }), {
      status: 'stale',
    });
    assert.deepEqual(
      classify({ reported: { value: policy, ac: 202, av: 7 }, connectionState: 'Disconnected' }),
      { status: 'offline' },
    );
    assert.deepEqual(classify({ reported: { value: policy, ac: 203, av: 0 } }), { status: 'pending' });
    assert.deepEqual(classify({ reported: { ac: 301, av: 7 } }), { status: 'pending' }, 'other codes');
  });

  void it('ac 4xx: rejected, with ad as the reason and ac as the code', () => {
    assert.deepEqual(
      classify({ reported: { value: null, ac: 400, av: 7, ad: "rule 'x' unsupported by firmware 1.4.2" } }),
      { status: 'rejected', code: 400, reason: "rule 'x' unsupported by firmware 1.4.2" },
    );
    assert.deepEqual(classify({ reported: { ac: 409, av: 8 } }), { status: 'rejected', code: 409 }, 'no ad');
    // A final answer stands whatever the connection and the deadline say now.
    assert.deepEqual(
      classify({
        reported: { ac: 499, av: 7, ad: 'no' },
        connectionState: 'Disconnected',
        ackDeadlinePassed: true,
      }),
      { status: 'rejected', code: 499, reason: 'no' },
    );
  });

  void it('ac 5xx: deviceError, with ad as the reason', () => {
    assert.deepEqual(classify({ reported: { ac: 500, av: 7, ad: 'exception applying' } }), {
      status: 'deviceError',
      code: 500,
      reason: 'exception applying',
    });
    assert.deepEqual(classify({ reported: { ac: 599, av: 7, ad: 42 } }), {
      status: 'deviceError',
      code: 599,
    });
  });

  void it('no answer: pending while connected, offline when Disconnected, stale at the deadline', () => {
    assert.deepEqual(classify({}), { status: 'pending' });
    assert.deepEqual(classify({ connectionState: undefined }), { status: 'pending' }, 'state unknown');
    assert.deepEqual(classify({ connectionState: 'Disconnected' }), { status: 'offline' });
    assert.deepEqual(classify({ connectionState: 'disconnected' }), { status: 'offline' });
    assert.deepEqual(classify({ ackDeadlinePassed: true }), { status: 'stale' });
    assert.deepEqual(classify({ connectionState: 'Disconnected', ackDeadlinePassed: true }), {
      status: 'offline',
    });
  });

  void it('without a written version nothing is tied to our write', () => {
    const answer = { value: policy, ac: 200, av: 7 };
    assert.deepEqual(classify({ writtenVersion: undefined, reported: answer }), { status: 'pending' });
    assert.deepEqual(classify({ writtenVersion: undefined, reported: answer, ackDeadlinePassed: true }), {
      status: 'stale',
    });
  });

  void it('garbage that cannot be tied to our write is no answer', () => {
    for (const reported of [
      null,
      'applied',
      42,
      [200, 7],
      {},
      { ac: 200 },
      { ac: 200, av: '7' },
      { ac: 200, av: 7.5 },
      { ac: 500, av: -1 },
      { ac: 200, av: Number.POSITIVE_INFINITY },
    ]) {
      assert.deepEqual(classify({ reported }), { status: 'pending' }, JSON.stringify(reported));
      assert.deepEqual(classify({ reported, ackDeadlinePassed: true }), { status: 'stale' });
    }
  });

  void it('an answer to our version with an unreadable ac is the device’s error', () => {
    assert.deepEqual(classify({ reported: { av: 7, ac: 'ok' } }), {
      status: 'deviceError',
      reason: "malformed acknowledgement: ac 'ok'",
    });
    assert.deepEqual(classify({ reported: { av: 7 } }), {
      status: 'deviceError',
      reason: 'malformed acknowledgement: ac missing',
    });
    for (const ac of [200.5, 99, 600, null, { code: 200 }]) {
      const verdict = classify({ reported: { av: 7, ac } });
      assert.equal(verdict.status, 'deviceError', JSON.stringify(ac));
      assert.match('reason' in verdict ? (verdict.reason ?? '') : '', /^malformed acknowledgement: ac /);
    }
  });

  void it('cuts a long ad to 256 characters', () => {
    const verdict = classify({ reported: { ac: 400, av: 7, ad: 'x'.repeat(10_000) } });
    assert.equal('reason' in verdict ? verdict.reason?.length : undefined, maxReasonLength);
  });

  void it('refuses a writtenVersion that is no $version, naming it', () => {
    for (const writtenVersion of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => classify({ writtenVersion }),
        (error: unknown) =>
          error instanceof ComplianceInputError &&
          error.code === 'InvalidComplianceInput' &&
          /writtenVersion must be/.test(error.message),
      );
    }
  });
});

void describe('compliance counts', () => {
  void it('counts verdicts and statuses, and adds counts up', () => {
    const batch1 = countCompliance([
      { status: 'applied' },
      { status: 'applied' },
      { status: 'rejected', code: 400, reason: 'x' },
      'offline',
    ]);
    assert.deepEqual(batch1, { applied: 2, pending: 0, offline: 1, rejected: 1, deviceError: 0, stale: 0 });
    const batch2 = countCompliance(['pending', 'stale', 'deviceError', 'applied']);
    assert.deepEqual(addComplianceCounts(batch1, batch2, emptyComplianceCounts()), {
      applied: 3,
      pending: 1,
      offline: 1,
      rejected: 1,
      deviceError: 1,
      stale: 1,
    });
    assert.deepEqual(addComplianceCounts(), emptyComplianceCounts());
    assert.deepEqual(batch1.applied, 2, 'the parts are not changed');
  });
});
