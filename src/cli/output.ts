/**
 * What the commands print. Results go to stdout (only JSON with `--json`); progress and logs go to
 * stderr. Colours and the live bar are used only when the stream is a terminal.
 */
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import picocolors from 'picocolors';
import type { ComplianceCounts } from '../domain/compliance';
import { complianceLine } from '../workflows/ack-plan';
import type { PolicyTarget, RunSummary, SyncMetrics } from '../workflows/types';
import { failedDeviceCount } from '../workflows/failure-ledger';
import { alertLine, alertsValue, authErrorsValue, metricsLines } from '../workflows/run-report';
import { formatDuration } from './duration';

export interface OutputStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface CommandContext {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on the first SIGINT/SIGTERM; long waits stop on it. */
  signal: AbortSignal;
}

export type Colors = ReturnType<typeof picocolors.createColors>;

/** Colours for one stream: on for a terminal unless NO_COLOR is set; FORCE_COLOR turns them on. */
export function colorsFor(stream: OutputStream, env: NodeJS.ProcessEnv): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  return picocolors.createColors(forced || (stream.isTTY === true && !('NO_COLOR' in env)));
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A line on stderr: progress, notes and hints, never the result. */
export function note(ctx: CommandContext, line: string): void {
  ctx.stderr.write(`${line}\n`);
}

function table(head: string[] | undefined, rows: (string | number)[][], colors: Colors): string {
  const t = new Table({
    ...(head ? { head: head.map((h) => colors.bold(h)) } : {}),
    style: { head: [], border: [], compact: false },
    wordWrap: true,
  });
  t.push(...rows.map((row) => row.map(String)));
  return t.toString();
}

/** The run summary for people; `limit` caps the failed and rejected rows shown. */
export function renderSummary(summary: RunSummary, colors: Colors, limit = 20): string {
  const inSync = summary.succeeded + summary.unchanged;
  const failed = failedDeviceCount(summary);
  const refused = summary.compliance ? summary.compliance.rejected + summary.compliance.deviceError : 0;
  const listed = summary.failed.length;
  const headline =
    failed > 0
      ? colors.red(`✖ ${failed} of ${summary.devicesTotal} devices failed; ${inSync} in sync`)
      : refused > 0
        ? colors.red(`✖ ${refused} of ${summary.devicesTotal} devices refused or failed the policy`)
        : colors.green(`✔ ${inSync} of ${summary.devicesTotal} devices in sync`);
  const lines = [
    `${headline} — hub ${summary.hub}, target ${summary.target}, ${formatDuration(summary.durationMs)}`,
    table(
      undefined,
      [
        ['workflow', summary.workflowId],
        ['devices', summary.devicesTotal],
        ['written', summary.succeeded],
        ['already in sync', summary.unchanged],
        ...(summary.drifted === undefined
          ? []
          : [['drifted (found not holding the policy)', summary.drifted]]),
        ...(summary.observation === undefined
          ? []
          : [['observation', observationLabel(summary.observation)]]),
        ['failed devices', failed],
        ['device-confirmed', deviceConfirmed(summary.target, summary.compliance)],
        ['rejected inventory rows', summary.rejected.length],
        ['403 responses (all write attempts)', authErrorsValue(summary.authErrors, summary.writeAttempts)],
        ['throttled responses (429, 503)', summary.throttled],
        ['alerts', alertsValue(summary.alerts)],
      ],
      colors,
    ),
  ];
  if (listed > 0) {
    lines.push(colors.bold(`Failed devices${listed > limit ? ` (first ${limit} of ${listed})` : ''}:`));
    lines.push(
      table(
        ['device', 'code', 'message'],
        summary.failed.slice(0, limit).map((f) => [f.deviceId, f.code, truncate(f.message, 100)]),
        colors,
      ),
    );
  }
  if (summary.rejected.length > 0) {
    const n = summary.rejected.length;
    lines.push(colors.bold(`Rejected inventory rows${n > limit ? ` (first ${limit} of ${n})` : ''}:`));
    lines.push(
      table(
        ['source', 'row', 'reason'],
        summary.rejected.slice(0, limit).map((r) => [r.source, r.row, truncate(r.reason, 100)]),
        colors,
      ),
    );
  }
  for (const alert of summary.alerts) lines.push(colors.yellow(`⚠ alert ${alertLine(alert)}`));
  return `${lines.join('\n')}\n`;
}

/** The `metrics` query's answer for people. */
export function renderMetrics(
  workflowId: string,
  status: string,
  metrics: SyncMetrics,
  colors: Colors,
): string {
  const phase = metrics.phase === 'failed' ? colors.red(metrics.phase) : colors.cyan(metrics.phase);
  const lines = [
    `${colors.bold(workflowId)} — ${status.toLowerCase()}, phase ${phase}`,
    table(
      undefined,
      [
        // One list of figures, named as the Temporal UI names them (run-report.ts); the phase is above.
        ...metricsLines(metrics)
          .filter((line) => line.label !== 'phase')
          .map(({ label, value }) => [label, value]),
        ['started', metrics.startedAt ?? '-'],
        ['last success', metrics.lastSuccessTime ?? '-'],
      ],
      colors,
    ),
  ];
  for (const alert of metrics.alerts) lines.push(colors.yellow(`⚠ alert ${alertLine(alert)}`));
  return `${lines.join('\n')}\n`;
}

/**
 * What the devices answered (twin target), in one line; the arm target has no device answer, so its writes
 * are only what Azure accepted.
 */
export function deviceConfirmed(target: PolicyTarget, compliance: ComplianceCounts | undefined): string {
  if (compliance) return complianceLine(compliance);
  return target === 'arm' ? 'no device answer on the arm target: written = accepted by Azure' : '-';
}

function observationLabel(observation: 'bulk' | 'perDevice'): string {
  return observation === 'bulk'
    ? 'bulk (the fleet observed once, only drift written)'
    : 'per device (each device read by its write)';
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface ProgressViewOptions {
  /** Without a terminal, one line at most this often (and on every phase change). @default 5000 */
  lineEveryInMs?: number;
}

/** Live progress on stderr: a bar on a terminal, otherwise a line every few seconds. */
export class ProgressView {
  private bar?: SingleBar;
  /** Alerts already told, by id: each is told once, when it is first seen. */
  private readonly alertsTold = new Set<string>();
  private lastLineAt = 0;
  private lastPhase?: string;
  private readonly lineEveryInMs: number;
  private readonly colors: Colors;

  constructor(
    private readonly ctx: CommandContext,
    options: ProgressViewOptions = {},
  ) {
    this.lineEveryInMs = options.lineEveryInMs ?? 5_000;
    this.colors = colorsFor(ctx.stderr, ctx.env);
  }

  update(metrics: SyncMetrics): void {
    this.tellNewAlerts(metrics);
    const payload = {
      phase: metrics.phase.padEnd(9),
      ok: metrics.successCount,
      unchanged: metrics.unchangedCount,
      failed: metrics.failureCount,
      auth: metrics.authErrors,
      throttled: metrics.throttledCount,
      alerts: alertsValue(metrics.alerts),
    };
    if (this.ctx.stderr.isTTY) {
      if (!this.bar) {
        const c = this.colors;
        this.bar = new SingleBar({
          stream: this.ctx.stderr as NodeJS.WritableStream,
          format:
            `${c.cyan('{phase}')} [{bar}] {value}/{total} | ${c.green('written {ok}')} · unchanged {unchanged} · ` +
            `${c.red('failed {failed}')} | 403s {auth} · throttled {throttled} | ${c.yellow('alerts {alerts}')} | {duration_formatted}`,
          barCompleteChar: '█',
          barIncompleteChar: '░',
          hideCursor: true,
          barsize: 30,
          fps: 5,
        });
        this.bar.start(Math.max(metrics.devicesTotal, 1), metrics.devicesDone, payload);
      }
      this.bar.setTotal(Math.max(metrics.devicesTotal, 1));
      this.bar.update(metrics.devicesDone, payload);
      return;
    }
    const now = Date.now();
    if (metrics.phase === this.lastPhase && now - this.lastLineAt < this.lineEveryInMs) return;
    this.lastPhase = metrics.phase;
    this.lastLineAt = now;
    note(
      this.ctx,
      `[${new Date(now).toISOString()}] ${metrics.phase}: ${metrics.devicesDone}/${metrics.devicesTotal} done, ` +
        `${metrics.successCount} written, ${metrics.unchangedCount} unchanged, ${metrics.driftedCount ?? 0} drifted, ` +
        `${metrics.failureCount} failed, ${metrics.authErrors} 403s, ${metrics.throttledCount} throttled, ` +
        `alerts ${alertsValue(metrics.alerts)}` +
        (metrics.compliance ? `; device-confirmed: ${complianceLine(metrics.compliance)}` : ''),
    );
  }

  /** A new alert gets its own line (above the bar on a terminal), with its message, as soon as it is seen. */
  private tellNewAlerts(metrics: SyncMetrics): void {
    for (const alert of metrics.alerts) {
      if (this.alertsTold.has(alert.id)) continue;
      this.alertsTold.add(alert.id);
      const line = this.colors.yellow(`⚠ alert ${alertLine(alert)}`);
      // On a terminal the bar is redrawn on its line: clear it, write the alert, and the next render follows.
      if (this.bar) this.ctx.stderr.write(`\r\x1b[2K${line}\n`);
      else note(this.ctx, line);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
