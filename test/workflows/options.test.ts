import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveSyncOptions, validateRerunRequest, validateSyncInput } from '../../src/workflows/options';

void describe('sync options', () => {
  void it('has the documented defaults', () => {
    const o = resolveSyncOptions({ hub: 'h', target: 'arm', preflight: { timeoutInMs: undefined } });
    assert.equal(o.batchSize, 50);
    assert.equal(o.maxConcurrentBatches, 10);
    assert.equal(o.batchStartDelayInMs, 0);
    assert.equal(o.reportEvery, 10);
    assert.equal(o.continueAsNewAfterEvents, 4_000);
    assert.equal(o.pageSize, 500);
    assert.deepEqual(o.preflight, {
      firstRecheckInMs: 250,
      backoffCoefficient: 1.25,
      maxRecheckInMs: 60_000,
      timeoutInMs: 1_800_000,
    });
    assert.deepEqual(o.alerts, {
      authErrorRateThreshold: 0.1,
      minAttempts: 20,
      abortAfterAuthFailures: 50,
      deviceRejectionRateThreshold: 0.01,
    });
    assert.equal(o.ackDeadlineInMs, 600_000);
    assert.deepEqual(o.retry, {
      initialIntervalInMs: 1_000,
      backoffCoefficient: 2,
      maximumIntervalInMs: 8_000,
      maximumAttempts: 30,
      startToCloseTimeoutInMs: 30_000,
      scheduleToCloseTimeoutInMs: 600_000,
      localFirstAttempt: true,
    });
  });

  void it('lists every problem at once', () => {
    assert.deepEqual(validateSyncInput({ hub: 'h', target: 'arm' }), []);
    const problems = validateSyncInput({
      hub: '',
      target: 'ftp' as 'arm',
      batchSize: 51,
      maxConcurrentBatches: 20,
      alerts: { authErrorRateThreshold: 2, deviceRejectionRateThreshold: -0.5 },
      ackDeadlineInMs: 1.5,
      retry: { maximumAttempts: 0, backoffCoefficient: 0.5, localFirstAttempt: 'yes' as unknown as boolean },
    });
    for (const name of [
      'hub',
      'target',
      'batchSize',
      'batchSize ×',
      'authErrorRateThreshold',
      'deviceRejectionRateThreshold',
      'ackDeadlineInMs',
      'maximumAttempts',
      'backoffCoefficient',
      'localFirstAttempt',
    ])
      assert.ok(
        problems.some((p) => p.includes(name)),
        `${name} in ${problems.join('; ')}`,
      );
  });

  void it('checks rerun payloads from any client', () => {
    assert.equal(validateRerunRequest({}), undefined);
    assert.equal(validateRerunRequest({ failedOnly: true, deviceIds: ['a'] }), undefined);
    assert.match(validateRerunRequest({ deviceIds: 'a' }) ?? '', /deviceIds/);
    assert.match(validateRerunRequest({ failedOnly: 'yes' }) ?? '', /failedOnly/);
    assert.match(validateRerunRequest(null) ?? '', /expected/);
  });
});
