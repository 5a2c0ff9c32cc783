import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authErrorRate,
  countDrift,
  countObservedUnchanged,
  countOutcome,
  emptyCounters,
  failureOf,
  isDrift,
  planWrites,
  retryingTallyOf,
  toSyncMetrics,
  uncountFailures,
  withRetrying,
} from '../../src/workflows/metrics';
import type { DeviceOutcome } from '../../src/workflows/types';

const ok = (deviceId: string, extra: Partial<DeviceOutcome> = {}): DeviceOutcome => ({
  deviceId,
  status: 'succeeded',
  attempts: 1,
  authErrors: 0,
  throttled: 0,
  completedAt: '2026-01-01T00:00:01.000Z',
  ...extra,
});

void describe('metrics', () => {
  void it('adds outcomes up', () => {
    let c = planWrites(emptyCounters(), 4);
    c = countOutcome(c, ok('a', { attempts: 3, authErrors: 2, throttled: 1 }));
    c = countOutcome(c, ok('b', { status: 'unchanged', completedAt: '2026-01-01T00:00:05.000Z' }));
    c = countOutcome(c, ok('c', { completedAt: '2026-01-01T00:00:03.000Z' }));
    c = countOutcome(c, {
      deviceId: 'd',
      status: 'failed',
      attempts: 10,
      authErrors: 10,
      throttled: 0,
      code: 'AuthorizationFailed',
      message: '403',
    });
    assert.deepEqual(c, {
      devicesTotal: 4,
      devicesDone: 4,
      successCount: 2,
      failureCount: 1,
      unchangedCount: 1,
      drifted: 0,
      authErrors: 12,
      throttledCount: 1,
      retriedCount: 2,
      writeAttempts: 15,
      lastSuccessTime: '2026-01-01T00:00:05.000Z',
    });
    assert.equal(authErrorRate(c), 12 / 15);
  });

  void it('counts devices observed in sync as done and unchanged, and drift apart from outcomes', () => {
    let c = planWrites(emptyCounters(), 5);
    c = countObservedUnchanged(c, 3, '2026-01-01T00:00:02.000Z');
    c = countDrift(c, 2);
    c = countOutcome(c, ok('a', { completedAt: '2026-01-01T00:00:01.000Z' }));
    assert.equal(c.devicesDone, 4);
    assert.equal(c.unchangedCount, 3);
    assert.equal(c.successCount, 1);
    assert.equal(c.drifted, 2, 'an outcome does not count drift by itself');
    assert.equal(c.writeAttempts, 1, 'devices observed in sync cost no write attempt');
    assert.equal(c.lastSuccessTime, '2026-01-01T00:00:02.000Z', 'the observation counts as in sync then');
    assert.equal(
      countObservedUnchanged(c, 0, '2030-01-01T00:00:00.000Z'),
      c,
      'an empty page changes nothing',
    );
    assert.equal(toSyncMetrics(c, 'syncing', null, []).driftedCount, 2);
  });

  void it('counts drift once per device: written, or fixed meanwhile after the observation judged it drifted', () => {
    assert.equal(isDrift({ status: 'succeeded' }, undefined), true, 'its own read found it differing');
    assert.equal(isDrift({ status: 'succeeded' }, 'drifted'), true);
    assert.equal(isDrift({ status: 'unchanged' }, 'drifted'), true, 'differed when observed');
    assert.equal(isDrift({ status: 'unchanged' }, undefined), false);
    assert.equal(isDrift({ status: 'failed' }, 'drifted'), false, 'a rerun that writes it counts it then');
    assert.equal(isDrift({ status: 'failed' }, 'notInHub'), false);
  });

  void it('takes re-queued failures off the books', () => {
    let c = planWrites(emptyCounters(), 2);
    c = countOutcome(c, {
      deviceId: 'x',
      status: 'failed',
      attempts: 1,
      authErrors: 0,
      throttled: 0,
      code: 'Error',
    });
    c = uncountFailures(c, 1);
    assert.equal(c.devicesTotal, 1);
    assert.equal(c.devicesDone, 0);
    assert.equal(c.failureCount, 0);
  });

  void it('adds the failed first attempts of devices still retrying, and refuses a malformed tally', () => {
    const finished = { ...emptyCounters(), devicesDone: 10, writeAttempts: 10, authErrors: 0 };
    const live = withRetrying(finished, [
      { devices: 4, attempts: 4, authErrors: 4 },
      undefined,
      { devices: 1, attempts: 1, authErrors: 0 },
    ]);
    assert.equal(live.writeAttempts, 15);
    assert.equal(live.authErrors, 4);
    assert.equal(live.devicesDone, 10, 'devices still retrying are not done');
    assert.equal(authErrorRate(live), 4 / 15);
    assert.deepEqual(retryingTallyOf({ devices: 2, attempts: 2, authErrors: 1 }), {
      devices: 2,
      attempts: 2,
      authErrors: 1,
    });
    for (const bad of [
      null,
      'x',
      { devices: 1, attempts: -1, authErrors: 0 },
      { devices: 1, attempts: 1, authErrors: 2 },
    ])
      assert.equal(retryingTallyOf(bad), undefined, JSON.stringify(bad));
  });

  void it('makes failure records only of failures', () => {
    assert.equal(failureOf(ok('a')), undefined);
    assert.deepEqual(
      failureOf({
        deviceId: 'x',
        status: 'failed',
        attempts: 2,
        authErrors: 0,
        throttled: 0,
        code: 'Timeout',
        message: 'm',
      }),
      { deviceId: 'x', code: 'Timeout', message: 'm', attempts: 2 },
    );
  });

  void it('reports the interface fields, rate 0 before any attempt', () => {
    const m = toSyncMetrics(emptyCounters(), 'loading', '2026-01-01T00:00:00.000Z', []);
    assert.deepEqual(Object.keys(m).sort(), [
      'alerts',
      'authErrorRate',
      'authErrors',
      'devicesDone',
      'devicesTotal',
      'driftedCount',
      'failureCount',
      'lastSuccessTime',
      'phase',
      'retriedCount',
      'startedAt',
      'successCount',
      'throttledCount',
      'unchangedCount',
      'writeAttempts',
    ]);
    assert.equal(m.authErrorRate, 0);
    assert.equal(m.lastSuccessTime, null);
  });
});
