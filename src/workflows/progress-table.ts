/** The short markdown table the Temporal UI shows as the sync's current details. Pure; sandbox-safe. */
import { complianceLine } from './ack-plan';
import type { SyncMetrics } from './types';

export function progressTable(metrics: SyncMetrics, note?: string): string {
  const open = metrics.alerts.filter((alert) => !alert.acknowledged).length;
  const alerts = metrics.alerts.length === 0 ? '0' : `${metrics.alerts.length} (${open} open)`;
  const rows = [
    '| phase | done / total | succeeded | unchanged | drifted | failed | 403s | 429s | alerts |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${metrics.phase} | ${metrics.devicesDone} / ${metrics.devicesTotal} | ${metrics.successCount} | ` +
      `${metrics.unchangedCount} | ${metrics.driftedCount ?? 0} | ${metrics.failureCount} | ${metrics.authErrors} | ` +
      `${metrics.throttledCount} | ${alerts} |`,
  ];
  if (metrics.compliance) rows.push('', `Device-confirmed: ${complianceLine(metrics.compliance)}`);
  return note ? `${rows.join('\n')}\n\n${note}` : rows.join('\n');
}
