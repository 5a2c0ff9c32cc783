/**
 * The product metrics through the real Temporal runtime: recorded on its metric meter, read back from its
 * Prometheus endpoint on a free loopback port. This file installs the process's runtime itself, so it must not
 * use the shared harness (test/support/temporal.ts installs one too); node's test runner gives every file a
 * process of its own.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { MetricMeter } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import {
  InvalidMetricValueError,
  ProductMetric,
  recordAlert,
  recordCompliance,
  recordResponses,
  recordWrite,
} from '../../src/activities/product-metrics';
import { freePort } from '../../src/devserver/dev-server';
import { eventually } from '../support/temporal';
import { scrape, sumOf, type PrometheusSample } from '../support/prometheus';

let url: string;
let meter: MetricMeter;

before(async () => {
  const port = await freePort();
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } },
  });
  url = `http://127.0.0.1:${port}/metrics`;
  meter = Runtime.instance().metricMeter;
});

/** Scrapes until `ready` holds: the exporter may lag the recording a little. */
async function scrapeUntil(
  what: string,
  ready: (s: PrometheusSample[]) => boolean,
): Promise<PrometheusSample[]> {
  return eventually(what, () => scrape(url), ready, 10_000, 100);
}

void describe('recordCompliance', () => {
  void it('sets every state of the hub and target, and a later call replaces the counts', async () => {
    recordCompliance(meter, 'hub-a', 'twin', {
      applied: 7,
      pending: 3,
      offline: 2,
      rejected: 1,
      deviceError: 4,
      stale: 5,
    });
    recordCompliance(meter, 'hub-b', 'twin', {
      applied: 1,
      pending: 0,
      offline: 0,
      rejected: 0,
      deviceError: 0,
      stale: 0,
    });
    const name = ProductMetric.complianceDevices;
    const first = await scrapeUntil('the compliance gauge', (s) => sumOf(s, name, { hub: 'hub-a' }) === 22);
    const stateOf = (samples: PrometheusSample[], hub: string) =>
      Object.fromEntries(
        samples
          .filter((s) => s.name === name && s.labels.hub === hub && s.labels.target === 'twin')
          .map((s) => [s.labels.state, s.value]),
      );
    assert.deepEqual(stateOf(first, 'hub-a'), {
      applied: 7,
      pending: 3,
      offline: 2,
      rejected: 1,
      deviceError: 4,
      stale: 5,
    });
    assert.deepEqual(stateOf(first, 'hub-b'), {
      applied: 1,
      pending: 0,
      offline: 0,
      rejected: 0,
      deviceError: 0,
      stale: 0,
    });

    // Devices answered: pending and stale went to applied. A state with none is 0, not its last value.
    recordCompliance(meter, 'hub-a', 'twin', {
      applied: 15,
      pending: 0,
      offline: 2,
      rejected: 1,
      deviceError: 4,
      stale: 0,
    });
    const second = await scrapeUntil(
      'the updated gauge',
      (s) => sumOf(s, name, { hub: 'hub-a', state: 'applied' }) === 15,
    );
    assert.deepEqual(stateOf(second, 'hub-a'), {
      applied: 15,
      pending: 0,
      offline: 2,
      rejected: 1,
      deviceError: 4,
      stale: 0,
    });
    assert.equal(sumOf(second, name, { hub: 'hub-b', state: 'applied' }), 1, 'another hub is untouched');
  });

  void it('refuses a count that is not a whole number ≥ 0, naming it, and sets nothing', async () => {
    const counts = { applied: 2, pending: -1, offline: 0, rejected: 0.5, deviceError: 0, stale: 0 };
    assert.throws(
      () => recordCompliance(meter, 'hub-bad', 'arm', counts),
      (error: unknown) =>
        error instanceof InvalidMetricValueError &&
        error.code === 'InvalidMetricValue' &&
        /counts\.pending \(-1\), counts\.rejected \(0\.5\)/.test(error.message),
    );
    recordCompliance(meter, 'hub-bad-marker', 'arm', {
      applied: 1,
      pending: 0,
      offline: 0,
      rejected: 0,
      deviceError: 0,
      stale: 0,
    });
    const samples = await scrapeUntil('the marker hub', (s) =>
      s.some((x) => x.labels.hub === 'hub-bad-marker'),
    );
    assert.equal(
      samples.filter((s) => s.labels.hub === 'hub-bad').length,
      0,
      'nothing of the refused call was set',
    );
  });
});

void describe('counters', () => {
  void it('count writes by outcome and code, 403 and throttling answers, and alerts by kind', async () => {
    const scope = { hub: 'hub-c', target: 'arm' as const };
    for (let i = 0; i < 3; i++) recordWrite(meter, scope, 'succeeded');
    recordWrite(meter, scope, 'unchanged');
    recordWrite(meter, scope, 'retrying', 'AuthorizationFailed');
    recordWrite(meter, scope, 'failed', 'DeviceNotFound');
    recordResponses(meter, scope, { forbidden: 1, throttled: 0 });
    recordResponses(meter, scope, { forbidden: 0, throttled: 1, throttledStatus: 429 });
    recordResponses(meter, scope, { forbidden: 0, throttled: 1, throttledStatus: 429 });
    recordAlert(meter, { hub: 'hub-c' }, 'AuthErrorRate');

    const samples = await scrapeUntil(
      'the counters',
      (s) => sumOf(s, ProductMetric.alerts, { hub: 'hub-c' }) === 1,
    );
    const writes = (labels: Record<string, string>) =>
      sumOf(samples, ProductMetric.writes, { hub: 'hub-c', target: 'arm', ...labels });
    assert.equal(writes({ outcome: 'succeeded' }), 3);
    assert.equal(writes({ outcome: 'unchanged' }), 1);
    assert.equal(writes({ outcome: 'retrying', code: 'AuthorizationFailed' }), 1);
    assert.equal(writes({ outcome: 'failed', code: 'DeviceNotFound' }), 1);
    assert.equal(writes({}), 6, 'every attempt once');
    assert.equal(sumOf(samples, ProductMetric.forbiddenResponses, { hub: 'hub-c', target: 'arm' }), 1);
    assert.equal(
      sumOf(samples, ProductMetric.throttledResponses, { hub: 'hub-c', target: 'arm', status: '429' }),
      2,
    );
    assert.equal(sumOf(samples, ProductMetric.alerts, { hub: 'hub-c', kind: 'AuthErrorRate' }), 1);
    const unprefixed = samples.filter((s) => s.name.startsWith('temporal_iot_policy_sync'));
    assert.deepEqual(unprefixed, [], "the SDK's temporal_ prefix is not applied to the product's metrics");
  });
});
