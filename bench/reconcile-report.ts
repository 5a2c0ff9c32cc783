/**
 * The reconcile cells' figures as plain data, their targets and their markdown (bench/results/reconcile.*).
 * Pure: the driver (bench/reconcile.ts) fills the results; this judges and renders them.
 */
import { formatSeconds } from './metrics';

export const RECONCILE_TARGETS = ['arm', 'twin'] as const;
export type ReconcileTarget = (typeof RECONCILE_TARGETS)[number];

/** `steady`: every device already holds its policy; `drift`: 1% of them (every 100th) hold another. */
export const RECONCILE_SCENARIOS = ['steady', 'drift'] as const;
export type ReconcileScenario = (typeof RECONCILE_SCENARIOS)[number];

/** What one approach did to one prepared world. */
export interface ApproachResult {
  approach: string;
  wallMs: number;
  /** Every request the emulator saw: token, discovery, permission checks, list/query pages, reads, writes. */
  requests: number;
  /** The policy writes among them (PUT securityPolicies / PATCH twins), 429s included. */
  writeRequests: number;
  /** Devices whose policy was written (the emulator's write counts for the target). */
  devicesWritten: number;
  status429: number;
  /** Devices holding their desired document afterwards. */
  inSyncAfter: number;
  /** What the approach itself said: the plan's counts, or the run summary's counters. */
  reported: Record<string, unknown>;
  loadAverage: [number, number];
  error?: string;
}

export interface ReconcileCell {
  target: ReconcileTarget;
  scenario: ReconcileScenario;
  fleet: number;
  /** Devices tampered to hold another document before the run. */
  drifted: number;
  approaches: ApproachResult[];
}

export interface ReconcileReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; memoryGiB: number; node: string };
  profile: string;
  emulatorSeed: number;
  /** The approaches measured, in column order, with what each is. */
  approaches: { name: string; description: string }[];
  cells: ReconcileCell[];
  targets: ReconcileTargetCheck[];
}

export interface ReconcileTargetCheck {
  name: string;
  cell: string;
  approach: string;
  met: boolean | null;
  detail: string;
}

export const perDevice = (count: number, fleet: number) => (fleet > 0 ? count / fleet : 0);

/** Requests per device other than the policy writes. */
export function nonWriteRequestsPerDevice(result: ApproachResult, fleet: number): number {
  return perDevice(result.requests - result.writeRequests, fleet);
}

export function cellLabel(cell: Pick<ReconcileCell, 'target' | 'scenario' | 'fleet'>): string {
  const scenario = cell.scenario === 'steady' ? 'steady' : '1% drift';
  return `${cell.target} · ${scenario} · ${cell.fleet.toLocaleString('en-US')}`;
}

/**
 * The targets, judged on the 10,000-device cells only (they are stated for 10,000): steady in ≤ 30 s with
 * ≤ 0.02 requests per device; 1% drift writes exactly the drifted devices with ≤ 0.05 requests per device
 * besides those writes. A plan writes nothing by design: its write target is judged on what it would write.
 */
export function checkReconcileTargets(cells: ReconcileCell[]): ReconcileTargetCheck[] {
  const checks: ReconcileTargetCheck[] = [];
  for (const cell of cells.filter((c) => c.fleet === 10_000)) {
    for (const result of cell.approaches) {
      if (result.error) {
        checks.push({
          name: cell.scenario === 'steady' ? 'steady: ≤ 30 s, ≤ 0.02 req/device' : 'drift: writes = drifted',
          cell: cellLabel(cell),
          approach: result.approach,
          met: false,
          detail: `error: ${result.error}`,
        });
        continue;
      }
      const rpd = perDevice(result.requests, cell.fleet);
      if (cell.scenario === 'steady') {
        checks.push({
          name: 'steady 10,000: ≤ 30 s and ≤ 0.02 requests per device',
          cell: cellLabel(cell),
          approach: result.approach,
          met: result.wallMs <= 30_000 && rpd <= 0.02,
          detail: `${formatSeconds(result.wallMs)} s, ${rpd.toFixed(4)} requests/device (${result.requests} requests)`,
        });
      } else {
        const planned = planUpdates(result);
        const writes = planned ?? result.devicesWritten;
        const other = nonWriteRequestsPerDevice(result, cell.fleet);
        checks.push({
          name: '1% drift 10,000: writes exactly the drifted devices, ≤ 0.05 requests per device besides them',
          cell: cellLabel(cell),
          approach: result.approach,
          met: writes === cell.drifted && other <= 0.05,
          detail:
            `${planned === undefined ? `${result.devicesWritten} devices written` : `${planned} devices planned for update (writes nothing)`}` +
            ` of ${cell.drifted} drifted; ${other.toFixed(4)} requests/device besides writes`,
        });
      }
    }
  }
  return checks;
}

/** The plan's "would update/create" count, when the result is a plan's. */
function planUpdates(result: ApproachResult): number | undefined {
  const counts = result.reported.counts as { update?: number; create?: number } | undefined;
  return counts ? (counts.update ?? 0) + (counts.create ?? 0) : undefined;
}

export function renderReconcileMarkdown(report: ReconcileReport): string {
  const lines: string[] = [];
  lines.push('# Benchmark: reconcile a steady or slightly drifted fleet', '');
  lines.push(
    `Measured ${report.finishedAt} on ${report.machine.cpus} CPUs / ${report.machine.memoryGiB} GiB, Node ${report.machine.node}. ` +
      `Command: \`${report.command}\`. Emulator profile \`${report.profile}\`, seed ${report.emulatorSeed}.`,
    '',
    'Approaches:',
    '',
    ...report.approaches.map((a) => `- **${a.name}**: ${a.description}`),
    '',
  );
  lines.push(
    '| target | scenario | fleet | drifted | approach | wall (s) | requests | requests/device | requests/device besides writes | devices written | 429s | in sync after | reported | load |',
    '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  );
  for (const cell of report.cells) {
    for (const r of cell.approaches) {
      lines.push(
        `| ${[
          cell.target,
          cell.scenario === 'steady' ? 'steady' : '1% drift',
          cell.fleet.toLocaleString('en-US'),
          String(cell.drifted),
          r.approach,
          r.error ? `error: ${r.error.replace(/\|/g, '/').slice(0, 80)}` : formatSeconds(r.wallMs),
          String(r.requests),
          perDevice(r.requests, cell.fleet).toFixed(4),
          nonWriteRequestsPerDevice(r, cell.fleet).toFixed(4),
          String(r.devicesWritten),
          String(r.status429),
          `${r.inSyncAfter.toLocaleString('en-US')}`,
          describeReported(r.reported),
          r.loadAverage.join('→'),
        ].join(' | ')} |`,
      );
    }
  }
  lines.push(
    '',
    'Columns: wall from the start (the plan command called in-process; the workflow started) to its end; ' +
      'requests = every request the emulator saw between its reset and the end (token, OpenID discovery, permission ' +
      'checks, list and query pages, reads, writes, 429s included); devices written = the emulator’s write counts ' +
      'for the target; in sync after = devices holding their desired document at the end (the plan writes ' +
      'nothing, so it leaves the drifted ones drifted); reported = the plan’s counts or the run summary’s ' +
      'counters; load = 1-minute load average at start → end (2 cores: above 2, other work competed).',
    '',
  );
  if (report.targets.length) {
    lines.push('## Targets (10,000-device cells)', '', '| target | cell | approach | met | measured |');
    lines.push('| --- | --- | --- | --- | --- |');
    for (const t of report.targets) {
      lines.push(
        `| ${t.name} | ${t.cell} | ${t.approach} | ${t.met === null ? 'n/a' : t.met ? 'yes' : 'no'} | ${t.detail} |`,
      );
    }
    lines.push('');
  } else {
    lines.push(
      'No 10,000-device cell in this run: the targets (steady 10,000 in ≤ 30 s with ≤ 0.02 requests per device; ' +
        '1% drift at 10,000 writing exactly 100 devices with ≤ 0.05 requests per device besides them) were not judged.',
      '',
    );
  }
  return lines.join('\n');
}

function describeReported(reported: Record<string, unknown>): string {
  const counts = reported.counts as Record<string, number> | undefined;
  if (counts)
    return `plan: ${counts.update ?? 0} update, ${counts.create ?? 0} create, ${counts.unchanged ?? 0} unchanged`;
  const keys = ['succeeded', 'unchanged', 'failed', 'throttled'] as const;
  const parts = keys.filter((k) => reported[k] !== undefined).map((k) => `${k} ${String(reported[k])}`);
  return parts.length ? `sync: ${parts.join(', ')}` : '–';
}
