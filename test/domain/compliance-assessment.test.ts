import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ComplianceTally, writtenVersionOf } from '../../src/domain/compliance-assessment';

const ack = (ac: number, av: number, ad = 'x') => ({ value: {}, ac, av, ad });

void describe('compliance assessment', () => {
  void it("an answer must reach the version at which securityPolicy took its value, not the section's $version", () => {
    // securityPolicy written at 5; another desired property changed since (7): the device answered 5.
    const device = { deviceId: 'd', holdsOurDocument: true, policyVersion: 5, desiredVersion: 7 };
    assert.equal(writtenVersionOf(device), 5);
    const tally = new ComplianceTally(false, 10);
    assert.equal(tally.add({ ...device, reported: ack(200, 5) }).status, 'applied');
    assert.equal(tally.add({ ...device, reported: ack(200, 4) }).status, 'pending');
    assert.equal(tally.awaitingAnswer, 1);
  });

  void it("without the hub's metadata, the section's $version: never applied too early", () => {
    const device = { deviceId: 'd', holdsOurDocument: true, desiredVersion: 7 };
    assert.equal(writtenVersionOf(device), 7);
    assert.equal(new ComplianceTally(false, 10).add({ ...device, reported: ack(200, 5) }).status, 'pending');
  });

  void it('a device not holding our document has nothing of ours to answer: not awaited, stale at the deadline', () => {
    const device = { deviceId: 'd', holdsOurDocument: false, policyVersion: 5, reported: ack(200, 5) };
    assert.equal(writtenVersionOf(device), undefined);
    const open = new ComplianceTally(false, 10);
    assert.equal(open.add(device).status, 'pending');
    assert.equal(open.awaitingAnswer, 0);
    assert.equal(new ComplianceTally(true, 10).add(device).status, 'stale');
    assert.equal(
      new ComplianceTally(true, 10).add({ ...device, connectionState: 'Disconnected' }).status,
      'offline',
    );
  });

  void it('lists refusals and failures up to the limit with their reasons, counts the rest', () => {
    const tally = new ComplianceTally(true, 2);
    const base = { holdsOurDocument: true, policyVersion: 3 };
    tally.add({ ...base, deviceId: 'a', reported: ack(400, 3, "rule 'usb-off' unsupported") });
    tally.add({ ...base, deviceId: 'b', reported: { ac: 500, av: 3 } });
    tally.add({ ...base, deviceId: 'c', reported: ack(404, 3) });
    tally.add({ ...base, deviceId: 'd', reported: ack(200, 3) });
    tally.add({ ...base, deviceId: 'e', connectionState: 'Connected' });
    assert.deepEqual(tally.failures, [
      { deviceId: 'a', code: 'DeviceRejected', reason: "rule 'usb-off' unsupported" },
      { deviceId: 'b', code: 'DeviceError', reason: 'ac 500, no reason given (ad empty)' },
    ]);
    assert.equal(tally.notListed, 1);
    assert.deepEqual(tally.counts, {
      applied: 1,
      pending: 0,
      offline: 0,
      rejected: 2,
      deviceError: 1,
      stale: 1,
    });
  });
});
