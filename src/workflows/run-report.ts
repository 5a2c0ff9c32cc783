/**
 * How a sync is going, in words: one list of labelled figures (`metricsLines`) that the Temporal UI's current
 * details, the memo and the command line all show, so that a figure has one name and one definition wherever
 * it appears. A new figure is one more entry in `metricsLines`. Pure; sandbox-safe.
 */
import type { AlertRecord } from '../domain/alerts';
import { complianceLine } from './ack-plan';
import type { SyncMetrics } from './types';

export interface ReportLine {
  /** What the figure counts, said where it is shown (e.g. "403 responses (all write attempts)"). */
  label: string;
  value: string;
}

/** Percent with one decimal, e.g. "80.9%". */
export function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

/** The figures of a sync, in the order they are shown. */
export function metricsLines(metrics: SyncMetrics): ReportLine[] {
  return [
    { label: 'phase', value: metrics.phase },
    { label: 'devices done', value: `${metrics.devicesDone} / ${metrics.devicesTotal}` },
    { label: 'written', value: String(metrics.successCount) },
    { label: 'already in sync', value: String(metrics.unchangedCount) },
    // Workers of older versions answer without it.
    { label: 'drifted (found not holding the policy)', value: String(metrics.driftedCount ?? '-') },
    { label: 'failed devices', value: String(metrics.failureCount) },
    ...deviceConfirmedLines(metrics),
    {
      label: '403 responses (all write attempts so far)',
      value: authErrorsValue(metrics.authErrors, metrics.writeAttempts),
    },
    { label: 'throttled responses (429, 503)', value: String(metrics.throttledCount) },
    { label: 'devices retried (more than one attempt)', value: String(metrics.retriedCount) },
    { label: 'alerts', value: alertsValue(metrics.alerts) },
  ];
}

/**
 * What the devices answered (twin target, once assessed); on the arm target a write is only what Azure
 * accepted, and the line says so rather than inventing an answer.
 */
function deviceConfirmedLines(metrics: SyncMetrics): ReportLine[] {
  if (metrics.compliance) return [{ label: 'device-confirmed', value: complianceLine(metrics.compliance) }];
  if (metrics.target === 'arm')
    return [
      { label: 'device-confirmed', value: 'no device answer on the arm target: written = accepted by Azure' },
    ];
  return [];
}

/** "1272 in 1572 write attempts (80.9%)", or the count alone where the attempts are not known. */
export function authErrorsValue(authErrors: number, writeAttempts: number | undefined): string {
  if (writeAttempts === undefined) return String(authErrors);
  const rate = writeAttempts > 0 ? authErrors / writeAttempts : 0;
  return `${authErrors} in ${writeAttempts} write attempts (${percent(rate)})`;
}

/** "none", or "2 (1 open: AuthErrorRate)". */
export function alertsValue(alerts: readonly AlertRecord[]): string {
  if (alerts.length === 0) return 'none';
  const open = alerts.filter((alert) => !alert.acknowledged);
  const kinds = open.map((alert) => alert.kind).join(', ');
  return `${alerts.length} (${open.length} open${open.length > 0 ? `: ${kinds}` : ''})`;
}

/** One sentence: "Syncing: 120 of 300 devices done; 100 written, 17 already in sync, 3 failed." */
export function headline(metrics: SyncMetrics): string {
  const phase = `${metrics.phase.charAt(0).toUpperCase()}${metrics.phase.slice(1)}`;
  return (
    `${phase}: ${metrics.devicesDone} of ${metrics.devicesTotal} devices done; ${metrics.successCount} written, ` +
    `${metrics.unchangedCount} already in sync, ${metrics.failureCount} failed.`
  );
}

/** One alert in a sentence: "AuthErrorRate (open, raised 2025-…Z): message". */
export function alertLine(alert: AlertRecord): string {
  const state = alert.acknowledged ? 'acknowledged' : 'open';
  return `${alert.kind} (${state}, id ${alert.id}, raised ${alert.raisedAt}): ${alert.message}`;
}

/**
 * The current details the Temporal UI shows: a headline, a list of "label: value" items (a list, not a table:
 * the UI renders tables without cell borders or padding, and the cells ran together) and one item per alert.
 */
export function progressMarkdown(metrics: SyncMetrics, note?: string): string {
  const parts = [
    `**${escapeMarkdown(headline(metrics))}**`,
    metricsLines(metrics)
      .map(({ label, value }) => `- ${escapeMarkdown(label)}: **${escapeMarkdown(value)}**`)
      .join('\n'),
  ];
  if (metrics.alerts.length > 0)
    parts.push(
      ['Alerts:', ...metrics.alerts.map((alert) => `- ⚠ ${escapeMarkdown(alertLine(alert))}`)].join('\n'),
    );
  if (note) parts.push(escapeMarkdown(note));
  return `${parts.join('\n\n')}\n`;
}

/** The memo: the outcome in words, for lists and describe (no live counts are promised here). */
export function outcomeMemo(metrics: SyncMetrics): Record<string, string> {
  const memo: Record<string, string> = {
    outcome: `${headline(metrics)} 403 responses: ${metrics.authErrors}; throttled responses: ${metrics.throttledCount}.`,
  };
  const open = metrics.alerts.filter((alert) => !alert.acknowledged);
  memo.alerts =
    open.length === 0 ? 'none open' : open.map((alert) => `${alert.kind}: ${alert.message}`).join(' | ');
  return memo;
}

/** Backslash-escapes what Markdown would read as markup, so that messages show as written. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|#~]/g, (c) => `\\${c}`);
}
