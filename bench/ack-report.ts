/** The acknowledgement-phase cells' report (bench/ack.ts): its shape and its Markdown. Pure. */
import type { ComplianceCounts } from '../src/domain/compliance';

export interface AckCell {
  fleet: number;
  /** From the start of the workflow to its result. */
  wallMs: number;
  /** Successful twin PATCHes (2xx) the emulator logged. */
  twinWrites: number;
  /** From the last successful twin PATCH (emulator log) to the workflow's result (the final classification). */
  lastWriteToEndMs: number | null;
  /** POST /devices/query requests logged after the last successful twin PATCH, any status. */
  queriesAfterLastWrite: number;
  /** Every POST /devices/query of the sync, any status. */
  queriesTotal: number;
  status429: number;
  /** The summary's compliance, and the emulator's own reading of the answers. */
  compliance: ComplianceCounts | null;
  emulatorAcknowledgements: Record<string, number>;
  /** summary.compliance deep-equals { ...state().acknowledgements, stale: 0 }. */
  complianceMatches: boolean;
  loadAverage: [number, number];
  error?: string;
}

export interface AckReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; memoryGiB: number; node: string };
  settings: Record<string, unknown>;
  cells: AckCell[];
}

const seconds = (ms: number | null): string => (ms === null ? '—' : (ms / 1000).toFixed(1));

function counts(c: Record<string, number> | null): string {
  if (!c) return '—';
  return Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export function renderAckMarkdown(report: AckReport, paragraph: string): string {
  const rows = report.cells.map((c) =>
    [
      c.fleet.toLocaleString('en-US'),
      seconds(c.wallMs),
      String(c.twinWrites),
      seconds(c.lastWriteToEndMs),
      String(c.queriesAfterLastWrite),
      String(c.queriesTotal),
      String(c.status429),
      counts(c.compliance as unknown as Record<string, number> | null),
      counts(c.emulatorAcknowledgements),
      c.error ? `error: ${c.error}` : c.complianceMatches ? 'yes' : 'no',
      c.loadAverage.join(' → '),
    ].join(' | '),
  );
  return [
    '# Acknowledgement phase (twin target)',
    '',
    `\`${report.command}\`, ${report.startedAt} → ${report.finishedAt}; ${report.machine.cpus} CPUs, ` +
      `${report.machine.memoryGiB} GiB, Node ${report.machine.node}.`,
    '',
    `Settings: \`${JSON.stringify(report.settings)}\``,
    '',
    '| devices | wall s | twin writes | last write → end s | queries after last write | queries (all) | 429s | summary compliance | emulator acknowledgements | equal | load |',
    '| ------- | ------ | ----------- | ------------------ | ------------------------ | ------------- | ---- | ------------------ | ------------------------- | ----- | ---- |',
    ...rows.map((r) => `| ${r} |`),
    '',
    paragraph,
    '',
  ].join('\n');
}
