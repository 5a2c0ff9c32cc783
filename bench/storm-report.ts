/**
 * The storm sweep's results as plain data, their judgement and their rendering (bench/results/storms.json,
 * storms.md and storms.svg). Pure: the driver (bench/storms.ts) fills the sides; this judges and renders.
 */
import type { FaultOverrides, PropagationFault, TokenBucketSettings } from '../src/emulator';
import { formatSeconds, type SideResult } from './metrics';
import { COLORS } from './report';
import type { BenchCell, StormLimit } from './storm-cells';
import {
  judgeStormSide,
  limitTargetMs,
  STORM_TARGET_NAMES,
  worstCells,
  type StormTargetCheck,
  type StormTargetName,
  type WorstCell,
} from './storm-targets';

export interface StormCellResult extends BenchCell {
  /** The world's propagation fault and ARM write bucket, as resolved (profile, --faults, the cell's overrides). */
  propagation: PropagationFault;
  armWrites: TokenBucketSettings | null;
  limit: StormLimit;
  baseline?: SideResult;
  before?: SideResult;
  ours?: SideResult;
  /** Storm cells only: the targets for each worker side. */
  targets?: { ours?: StormTargetCheck[]; before?: StormTargetCheck[] };
}

export interface StormReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; memoryGiB: number; node: string };
  settings: {
    emulatorSeed: number;
    emulatorFaults: FaultOverrides;
    oursInput: Record<string, unknown>;
    workerMaxConcurrentActivities: number | null;
    workerOptions: Record<string, unknown>;
    baselineTokenReset: string;
    /** Which checkout each worker side ran: its directory and commit (`+dirty` with uncommitted changes). */
    ours: { dir: string; commit: string };
    before: { dir: string; commit: string } | null;
  };
  cells: StormCellResult[];
  /** Per worker side, the worst storm cell of each target. */
  summary: { ours: WorstCell[]; before?: WorstCell[] };
}

/** Judges every storm cell (ours, and before when it ran) and names the worst cell of each target. */
export function judgeStorms(report: StormReport): void {
  const storms = report.cells.filter((c) => c.kind === 'storm');
  for (const cell of storms) {
    const targets: StormCellResult['targets'] = {};
    if (cell.ours) targets.ours = judgeStormSide(cell.ours, cell.baseline, cell.limit.limitMs);
    if (cell.before) targets.before = judgeStormSide(cell.before, cell.baseline, cell.limit.limitMs);
    cell.targets = targets;
  }
  const of = (side: 'ours' | 'before') =>
    storms.flatMap((c) => (c.targets?.[side] ? [{ label: c.label, checks: c.targets[side] }] : []));
  report.summary = {
    ours: worstCells(of('ours')),
    ...(storms.some((c) => c.before) ? { before: worstCells(of('before')) } : {}),
  };
}

const sec = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '∞');
const pipe = (text: string) => text.replace(/\|/g, '/');

function sidesOf(report: StormReport): ('baseline' | 'before' | 'ours')[] {
  return (['baseline', 'before', 'ours'] as const).filter((side) => report.cells.some((c) => c[side]));
}

function wallCell(side: SideResult | undefined): string {
  if (!side) return '–';
  return side.error ? `error: ${pipe(side.error).slice(0, 60)}` : formatSeconds(side.wallMs);
}

function inSyncCell(side: SideResult | undefined): string {
  if (!side) return '–';
  const pct = side.devices === 0 ? 100 : (side.inSync / side.devices) * 100;
  return `${side.inSync}/${side.devices}${side.inSync === side.devices ? '' : ` (${pct.toFixed(1)}%)`}`;
}

function ratio(a: SideResult | undefined, b: SideResult | undefined): string {
  if (!a || !b || a.error || b.error || b.wallMs <= 0) return '–';
  return (a.wallMs / b.wallMs).toFixed(2);
}

function verdict(check: StormTargetCheck | undefined): string {
  if (!check || check.met === null) return 'n/a';
  return check.met ? 'met' : '**missed**';
}

const TARGET_ORDER = Object.keys(STORM_TARGET_NAMES) as StormTargetName[];

/** wall, in sync, requests/device, 403s (and 429s) of one side; dashes when the side did not run here. */
function sideColumns(side: SideResult | undefined, with429 = false): string[] {
  const columns = [
    wallCell(side),
    inSyncCell(side),
    side ? side.requestsPerDevice.toFixed(2) : '–',
    side ? String(side.requestsByStatus['403'] ?? 0) : '–',
  ];
  if (with429) columns.push(side ? String(side.requestsByStatus['429'] ?? 0) : '–');
  return columns;
}

function stormTable(report: StormReport, cells: StormCellResult[]): string[] {
  const sides = sidesOf(report);
  const hasBefore = sides.includes('before');
  const head = [
    'delay (s)',
    'refused',
    'window (s)',
    'fleet',
    'limit (s)',
    ...sides.flatMap((s) => [`${s} wall (s)`, `${s} in sync`, `${s} req/device`, `${s} 403s`]),
    'ours/baseline',
    ...(hasBefore ? ['ours/before'] : []),
    ...TARGET_ORDER.map((t) => `ours: ${STORM_TARGET_NAMES[t]}`),
    ...(hasBefore ? TARGET_ORDER.map((t) => `before: ${STORM_TARGET_NAMES[t]}`) : []),
  ];
  const judged = TARGET_ORDER.length * (hasBefore ? 2 : 1);
  const lines = [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i < head.length - judged ? '---:' : '---')).join(' | ')} |`,
  ];
  for (const cell of cells) {
    const row = [
      sec(cell.propagation.delayMs),
      String(cell.propagation.flakyRatio),
      sec(cell.propagation.flakyWindowMs),
      cell.fleet.toLocaleString('en-US'),
      sec(cell.limit.limitMs),
      ...sides.flatMap((s) => sideColumns(cell[s])),
      ratio(cell.ours, cell.baseline),
      ...(hasBefore ? [ratio(cell.ours, cell.before)] : []),
      ...TARGET_ORDER.map((t) => verdict(cell.targets?.ours?.find((c) => c.target === t))),
      ...(hasBefore
        ? TARGET_ORDER.map((t) => verdict(cell.targets?.before?.find((c) => c.target === t)))
        : []),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

function referenceTable(report: StormReport, cells: StormCellResult[]): string[] {
  const sides = sidesOf(report);
  const hasBefore = sides.includes('before');
  const head = [
    'cell',
    'limit (s)',
    ...sides.flatMap((s) => [`${s} wall (s)`, `${s} in sync`, `${s} req/device`, `${s} 403s`, `${s} 429s`]),
    'ours/baseline',
    ...(hasBefore ? ['ours/before'] : []),
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const cell of cells) {
    const row = [
      cell.label,
      sec(cell.limit.limitMs),
      ...sides.flatMap((s) => sideColumns(cell[s], true)),
      ratio(cell.ours, cell.baseline),
      ...(hasBefore ? [ratio(cell.ours, cell.before)] : []),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

function breakdownTable(report: StormReport): string[] {
  const head = [
    'cell',
    'side',
    'requests/device',
    'token + discovery',
    'permission checks',
    'list / read',
    'writes (PUT)',
    'other',
    '403s (all kinds)',
    'requests',
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const cell of report.cells) {
    for (const sideName of sidesOf(report)) {
      const side = cell[sideName];
      const counts = side?.requestCounts;
      if (!side || !counts) continue;
      const per = (n: number) => (n / cell.fleet).toFixed(2);
      lines.push(
        `| ${[
          cell.label,
          sideName,
          side.requestsPerDevice.toFixed(2),
          per(counts.tokenAndDiscovery),
          per(counts.permissionChecks),
          per(counts.reads),
          per(counts.writes),
          per(counts.other),
          String(counts.status403),
          `${counts.total}${counts.logged < counts.total ? ` (log kept ${counts.logged})` : ''}`,
        ].join(' | ')} |`,
      );
    }
  }
  return lines;
}

/** One line per target: how many storm cells met it and the worst one, with its figure. */
export function summaryLines(worst: WorstCell[], side: string): string[] {
  return worst.map((w) => {
    const name = STORM_TARGET_NAMES[w.target];
    if (!w.cell) return `- ${side}, ${name}: not judged (${w.detail})`;
    return (
      `- ${side}, ${name}: met in ${w.metCount} of ${w.judged} cells; worst: ${w.cell}, ${w.detail}` +
      ` (${w.met ? 'met' : 'missed'})`
    );
  });
}

export function renderStormMarkdown(report: StormReport): string {
  const storms = report.cells.filter((c) => c.kind === 'storm');
  const references = report.cells.filter((c) => c.kind === 'reference');
  const lines: string[] = [];
  lines.push('# Benchmark: propagation storms', '');
  lines.push(
    `Measured ${report.finishedAt} on ${report.machine.cpus} CPUs / ${report.machine.memoryGiB} GiB, Node ${report.machine.node}. ` +
      `Command: \`${report.command}\`. Emulator seed ${report.settings.emulatorSeed}.`,
    '',
    `- ours: ${report.settings.ours.dir === '.' ? 'this checkout' : report.settings.ours.dir} at ${report.settings.ours.commit}`,
    ...(report.settings.before
      ? [`- before: ${report.settings.before.dir} at ${report.settings.before.commit}`]
      : []),
    '',
  );
  if (storms.length) {
    lines.push(
      '## Storm cells',
      '',
      'The seed profile with its propagation fault set per cell: the grant appears after `delay`, then `refused` of ' +
        'the calls it authorizes get 403 for `window`. limit = delay + window (from the emulator reset, when the ' +
        'grant is created) + the writes at the rate the world allows (none metered here): no sync can end sooner.',
      '',
      ...stormTable(report, storms),
      '',
      '### Targets: the worst cell of each',
      '',
      ...summaryLines(report.summary.ours, 'ours'),
      ...(report.summary.before ? summaryLines(report.summary.before, 'before') : []),
      '',
    );
  }
  if (references.length) {
    lines.push(
      '## Reference cells',
      '',
      'Plain profiles, for checking that nothing else got worse (not judged against the storm targets). limit: ' +
        'the same definition (hostile: its propagation fault plus (fleet − 200) ÷ 10 writes/s; throttled: the ' +
        'writes beyond the 200-write burst at 10/s).',
      '',
      ...referenceTable(report, references),
      '',
    );
  }
  lines.push(
    '## Requests by kind (per device)',
    '',
    'Every request the emulator answered between its reset and the end of the side, by kind: Entra ID (token ' +
      'grant, OpenID metadata, instance discovery), permission checks (Microsoft.Authorization), list and read ' +
      '(GET of a policy, list pages), writes (PUT of a policy), other; 403s of every kind, as a count.',
    '',
    ...breakdownTable(report),
    '',
    '## Settings',
    '',
    ...(Object.keys(report.settings.emulatorFaults).length
      ? [
          `- emulator fault overrides under every cell's: \`${JSON.stringify(report.settings.emulatorFaults)}\``,
        ]
      : []),
    `- our workflow input overrides: \`${JSON.stringify(report.settings.oursInput)}\``,
    `- worker maxConcurrentActivityTaskExecutions: ${report.settings.workerMaxConcurrentActivities ?? 'default'}`,
    `- extra worker options: \`${JSON.stringify(report.settings.workerOptions)}\``,
    `- baseline token reset: ${report.settings.baselineTokenReset}`,
    '',
  );
  return lines.join('\n');
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Short labels under a bar group: the world on the first line, the fleet on the second. */
function groupLabel(cell: StormCellResult): [string, string] {
  const fleet = cell.fleet.toLocaleString('en-US');
  if (cell.kind === 'reference' || Object.keys(cell.faults).length === 0) return [cell.profile, fleet];
  const p = cell.propagation;
  return [`${p.delayMs / 1000}s·${p.flakyRatio}·${p.flakyWindowMs / 1000}s`, fleet];
}

/**
 * Per cell a bar group (baseline / before / ours wall, linear seconds), the limit as a dashed line and the
 * 1.3 × limit + 3 s target as a red line across the group. Storm cells first, then a gap, then the references.
 */
export function renderStormSvg(report: StormReport): string {
  const sides = sidesOf(report);
  const cells = report.cells;
  const barWidth = 16;
  const groupWidth = Math.max(64, sides.length * (barWidth + 3) + 22);
  const left = 64;
  const gap = cells.some((c) => c.kind === 'reference') && cells.some((c) => c.kind === 'storm') ? 30 : 0;
  const width = Math.max(820, left + cells.length * groupWidth + gap + 24);
  const top = 92;
  const panelHeight = 320;
  const height = top + panelHeight + 90;
  const walls = cells.flatMap((c) =>
    [
      ...sides
        .map((s) => c[s])
        .filter((s): s is SideResult => !!s && !s.error)
        .map((s) => s.wallMs),
    ].concat(Number.isFinite(c.limit.limitMs) ? [limitTargetMs(c.limit.limitMs)] : []),
  );
  const maxSeconds = Math.max(10, ...walls.map((ms) => ms / 1000));
  const step = [5, 10, 20, 30, 60, 120, 300, 600].find((s) => maxSeconds / s <= 8) ?? 1200;
  const top2 = Math.ceil(maxSeconds / step) * step;
  const y = (seconds: number) => top + panelHeight - (Math.min(seconds, top2) / top2) * panelHeight;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">Propagation storms: wall time per side, the limit and the target</text>`,
  );
  const legend: [string, string][] = sides.map((s) => [
    COLORS[s],
    s === 'baseline' ? 'baseline (seed script)' : s === 'before' ? 'before (the other checkout)' : 'ours',
  ]);
  let lx = left;
  for (const [color, text] of legend) {
    out.push(
      `<rect x="${lx}" y="34" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="44">${escapeXml(text)}</text>`,
    );
    lx += 30 + text.length * 6;
  }
  out.push(
    `<line x1="${lx}" y1="40" x2="${lx + 22}" y2="40" stroke="#333" stroke-width="1.5" stroke-dasharray="4 3"/><text x="${lx + 26}" y="44">limit</text>`,
    `<line x1="${lx + 70}" y1="40" x2="${lx + 92}" y2="40" stroke="#d62728" stroke-width="2"/><text x="${lx + 96}" y="44">target: 1.3 × limit + 3 s</text>`,
    `<text x="${left}" y="${top - 18}" font-weight="bold">Wall time (s); labels: delay · refused · window, then fleet</text>`,
  );
  for (let v = 0; v <= top2; v += step) {
    out.push(
      `<line x1="${left}" y1="${y(v)}" x2="${width - 16}" y2="${y(v)}" stroke="#e3e7eb"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  let x = left;
  cells.forEach((cell, index) => {
    if (index > 0 && cell.kind === 'reference' && cells[index - 1]?.kind === 'storm') {
      out.push(
        `<line x1="${x + gap / 2}" y1="${top - 6}" x2="${x + gap / 2}" y2="${top + panelHeight + 40}" stroke="#bbb" stroke-dasharray="2 2"/>`,
        `<text x="${x + gap}" y="${top - 2}" fill="#555">references</text>`,
      );
      x += gap;
    }
    const present = sides.filter((s) => cell[s]);
    const x0 = x + (groupWidth - present.length * (barWidth + 3)) / 2;
    present.forEach((sideName, k) => {
      const side = cell[sideName] as SideResult;
      const bx = x0 + k * (barWidth + 3);
      if (side.error) {
        out.push(
          `<text x="${bx + barWidth / 2}" y="${top + panelHeight - 4}" text-anchor="middle" fill="#d62728">✗</text>`,
        );
        return;
      }
      const seconds = side.wallMs / 1000;
      const by = y(seconds);
      const inSync = side.inSync === side.devices ? '' : ` (${side.inSync}/${side.devices} in sync)`;
      out.push(
        `<rect x="${bx}" y="${by.toFixed(1)}" width="${barWidth}" height="${(top + panelHeight - by).toFixed(1)}" fill="${COLORS[sideName]}"${inSync ? ' fill-opacity="0.45" stroke="#d62728"' : ''}><title>${escapeXml(`${cell.label} ${sideName}: ${seconds.toFixed(1)} s${inSync}`)}</title></rect>`,
        `<text x="${bx + barWidth / 2}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="8">${seconds < 10 ? seconds.toFixed(1) : seconds.toFixed(0)}</text>`,
      );
    });
    if (Number.isFinite(cell.limit.limitMs)) {
      const ly = y(cell.limit.limitMs / 1000);
      const ty = y(limitTargetMs(cell.limit.limitMs) / 1000);
      out.push(
        `<line x1="${x + 4}" y1="${ly.toFixed(1)}" x2="${x + groupWidth - 4}" y2="${ly.toFixed(1)}" stroke="#333" stroke-width="1.5" stroke-dasharray="4 3"><title>${escapeXml(`limit ${sec(cell.limit.limitMs)} s`)}</title></line>`,
        `<line x1="${x + 4}" y1="${ty.toFixed(1)}" x2="${x + groupWidth - 4}" y2="${ty.toFixed(1)}" stroke="#d62728" stroke-width="2"><title>${escapeXml(`target ${sec(limitTargetMs(cell.limit.limitMs))} s`)}</title></line>`,
      );
    }
    const [first, second] = groupLabel(cell);
    const cx = x + groupWidth / 2;
    out.push(
      `<text x="${cx}" y="${top + panelHeight + 15}" text-anchor="middle" font-size="10">${escapeXml(first)}</text>`,
      `<text x="${cx}" y="${top + panelHeight + 28}" text-anchor="middle" font-size="10">${escapeXml(second)}</text>`,
    );
    x += groupWidth;
  });
  out.push(
    `<text x="${left}" y="${height - 30}" font-size="10" fill="#555">Bars drawn pale with a red edge: not every device in sync. ✗: the side did not run to the end.</text>`,
    `<text x="${left}" y="${height - 12}" font-size="10" fill="#555">${escapeXml(`${report.finishedAt} · ${report.machine.cpus} CPUs · Node ${report.machine.node} · ${report.command}`)}</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
