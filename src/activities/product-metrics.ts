/**
 * The product's own metrics, recorded through the Temporal SDK's metric meter: with WORKER_METRICS_PORT set they
 * are served on the same Prometheus endpoint as the SDK's metrics (without its `temporal_` prefix). Every series
 * carries `hub` and, where the sync's target is known, `target`. deploy/grafana/iot-policy-sync.json charts them;
 * a test checks that it names only the metrics below.
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { complianceStatuses, type ComplianceCounts } from '../domain/compliance';
import type { PolicyTarget } from '../domain/policy-target';

export const PRODUCT_METRIC_PREFIX = 'iot_policy_sync_';

export const ProductMetric = {
  /** Counter: write attempts by `outcome` (WriteOutcome); `code` (a FailureType) on retrying and failed. */
  writes: 'iot_policy_sync_writes_total',
  /** Counter: 403 answers to our calls (each ends the attempt, which is retried with a fresh token). */
  forbiddenResponses: 'iot_policy_sync_forbidden_responses_total',
  /** Counter: throttling answers by `status`: 429, and 503 asking to wait. */
  throttledResponses: 'iot_policy_sync_throttled_responses_total',
  /** Counter: alerts raised, by `kind`. */
  alerts: 'iot_policy_sync_alerts_total',
  /** Gauge: devices per compliance `state` (applied, pending, offline, rejected, deviceError, stale). */
  complianceDevices: 'iot_policy_sync_compliance_devices',
} as const;
export type ProductMetric = (typeof ProductMetric)[keyof typeof ProductMetric];

export const productMetricNames: readonly ProductMetric[] = Object.values(ProductMetric);

/**
 * What one write attempt came to. `retrying`: it failed and the device will be tried again; `failed`: the
 * device's final failure. Every attempt counts once, so the outcomes add up to the attempts made.
 */
export type WriteOutcome = 'succeeded' | 'unchanged' | 'retrying' | 'failed';

export interface ProductMetricScope {
  hub: string;
  target?: PolicyTarget;
}

function scopeTags({ hub, target }: ProductMetricScope): MetricTags {
  return target === undefined ? { hub } : { hub, target };
}

export function recordWrite(
  meter: MetricMeter,
  scope: ProductMetricScope,
  outcome: WriteOutcome,
  code?: string,
): void {
  meter
    .createCounter(ProductMetric.writes, 'writes', 'Policy write attempts by outcome')
    .add(1, { ...scopeTags(scope), outcome, ...(code === undefined ? {} : { code }) });
}

export interface ResponseCounts {
  forbidden: number;
  throttled: number;
  /** The status of the throttling answers (429 or 503). */
  throttledStatus?: number;
}

/** Adds an attempt's 403 and throttling answers; nothing for zero. */
export function recordResponses(meter: MetricMeter, scope: ProductMetricScope, counts: ResponseCounts): void {
  if (counts.forbidden > 0)
    meter
      .createCounter(ProductMetric.forbiddenResponses, 'responses', '403 answers to policy calls')
      .add(counts.forbidden, scopeTags(scope));
  if (counts.throttled > 0)
    meter
      .createCounter(
        ProductMetric.throttledResponses,
        'responses',
        'Throttling answers (429, 503) to policy calls',
      )
      .add(counts.throttled, {
        ...scopeTags(scope),
        ...(counts.throttledStatus === undefined ? {} : { status: String(counts.throttledStatus) }),
      });
}

export function recordAlert(meter: MetricMeter, scope: ProductMetricScope, kind: string): void {
  meter
    .createCounter(ProductMetric.alerts, 'alerts', 'Alerts raised, by kind')
    .add(1, { ...scopeTags(scope), kind });
}

/** A count that is not a whole number ≥ 0: a caller's bug, refused rather than charted. */
export class InvalidMetricValueError extends Error {
  override readonly name = 'InvalidMetricValueError';
  readonly code = 'InvalidMetricValue';
}

/**
 * Sets the hub's devices per compliance state, every state at once (a state with none is set to 0, not left at
 * its last value). Throws InvalidMetricValueError, setting nothing, when a count is not a whole number ≥ 0.
 */
export function recordCompliance(
  meter: MetricMeter,
  hub: string,
  target: PolicyTarget,
  counts: ComplianceCounts,
): void {
  const wrong = complianceStatuses.filter(
    (state) => !(Number.isSafeInteger(counts[state]) && counts[state] >= 0),
  );
  if (wrong.length > 0)
    throw new InvalidMetricValueError(
      `recordCompliance: ${wrong.map((state) => `counts.${state} (${String(counts[state])})`).join(', ')} ` +
        'must be a whole number ≥ 0',
    );
  const gauge = meter.createGauge(
    ProductMetric.complianceDevices,
    'int',
    'devices',
    'Devices per compliance state (device-confirmed)',
  );
  for (const state of complianceStatuses) gauge.set(counts[state], { hub, target, state });
}
