/**
 * `npm run bench -- --ack`: the acknowledgement phase of a twin-target sync. Per fleet one emulator (calm,
 * 5% of devices offline, 2% refusing, answers after 0.5–5 s, 20 device queries per minute) and one sync with a
 * 60 s ack deadline on our worker in a child process. The emulator's request log decides the figures: the time
 * from the last successful twin PATCH to the workflow's result (the final classification), the device queries
 * made after that write, the 429s, and whether the summary's compliance equals the emulator's own reading.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmulator } from '../src/emulator';
import type { PolicySyncInput, RunSummary } from '../src/workflows/types';
import { ACK_CHECKS } from '../src/workflows/ack-plan';
import { renderAckMarkdown, type AckCell, type AckReport } from './ack-report';
import { machineDescription } from './process-stats';
import { forkSide, nextMessage, stopChild, ourWorkerEnv } from './child-process';
import { jsonEqual } from './metrics';
import type { ReconcileTemporal } from './reconcile';

const ROOT = resolve(__dirname, '..');
const RUN_TIMEOUT_MS = 20 * 60_000;
const PROFILE = 'calm';
const ACK_DEADLINE_IN_MS = 60_000;
const QUERIES_PER_MINUTE = 20;
const FAULTS = {
  devices: { offlineRatio: 0.05, rejectRatio: 0.02 },
  listing: { queriesPerMinute: QUERIES_PER_MINUTE },
};

export interface AckOptions {
  fleets: number[];
  seed: number;
  outDir: string;
  command: string;
}

function log(message: string): void {
  process.stderr.write(`[bench ack ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const isQuery = (r: { method: string; path: string }) =>
  r.method === 'POST' && r.path.split('?')[0]!.endsWith('/devices/query');

async function runCell(fleet: number, temporal: ReconcileTemporal, options: AckOptions): Promise<AckCell> {
  const emulator = await startEmulator({
    port: 0,
    devices: fleet,
    profile: PROFILE,
    seed: options.seed,
    faults: FAULTS,
  });
  const loadAtStart = Number((loadavg()[0] ?? 0).toFixed(2));
  const taskQueue = `bench-ack-${randomUUID()}`;
  let summary: RunSummary | undefined;
  let error: string | undefined;
  let started = Date.now();
  let endedAt: number;
  try {
    const child = await forkSide(
      'bench/ours/worker-process.ts',
      ourWorkerEnv(emulator, temporal, taskQueue, {
        POLICY_TARGET: 'twin',
        IOT_HUB_QUERIES_PER_MINUTE: String(QUERIES_PER_MINUTE),
      }),
      join(ROOT, 'bench', 'results', 'tmp', `ack-${fleet}.log`),
    );
    const stopped = nextMessage(child, 'stopped', RUN_TIMEOUT_MS + 60_000).catch(() => undefined);
    try {
      const hub = emulator.env.IOT_HUB_NAME ?? 'hub';
      const input: PolicySyncInput = { hub, target: 'twin', ackDeadlineInMs: ACK_DEADLINE_IN_MS };
      started = Date.now();
      const handle = await temporal.client.workflow.start('policySyncWorkflow', {
        taskQueue,
        workflowId: `iot-policy-sync-${hub}-ack-${randomUUID()}`,
        args: [input],
        workflowExecutionTimeout: RUN_TIMEOUT_MS,
      });
      summary = (await handle.result()) as RunSummary;
      endedAt = Date.now();
      child.send({ type: 'shutdown' });
      await stopped;
    } finally {
      await stopChild(child);
    }
  } catch (e) {
    endedAt = Date.now();
    error = e instanceof Error ? e.message : String(e);
    log(`${fleet}: ${error}`);
  }
  try {
    const state = emulator.state();
    const requests = emulator.requestLog().filter((r) => Date.parse(r.at) >= started);
    const writes = requests.filter(
      (r) => r.method === 'PATCH' && r.path.includes('/twins/') && r.status >= 200 && r.status < 300,
    );
    const lastWriteAt = writes.length ? Math.max(...writes.map((r) => Date.parse(r.at))) : null;
    const queries = requests.filter(isQuery);
    const acks = state.acknowledgements as unknown as Record<string, number>;
    return {
      fleet,
      wallMs: endedAt - started,
      twinWrites: writes.length,
      lastWriteToEndMs: lastWriteAt === null ? null : endedAt - lastWriteAt,
      queriesAfterLastWrite:
        lastWriteAt === null ? 0 : queries.filter((r) => Date.parse(r.at) > lastWriteAt).length,
      queriesTotal: queries.length,
      status429: state.requests['429'] ?? 0,
      compliance: summary?.compliance ?? null,
      emulatorAcknowledgements: acks,
      complianceMatches:
        summary?.compliance !== undefined && jsonEqual(summary.compliance, { ...acks, stale: 0 }),
      loadAverage: [loadAtStart, Number((loadavg()[0] ?? 0).toFixed(2))],
      ...(error ? { error } : {}),
    };
  } finally {
    await emulator.close();
  }
}

/** What the phase waited for, from the measured cells and the phase's schedule (ack-plan.ts). */
export function ackParagraph(cells: AckCell[]): string {
  const timings = cells
    .filter((c) => c.lastWriteToEndMs !== null)
    .map(
      (c) =>
        `${c.fleet.toLocaleString('en-US')} devices: ${((c.lastWriteToEndMs ?? 0) / 1000).toFixed(1)} s from the last ` +
        `write to the result, ${c.queriesAfterLastWrite} device queries after it`,
    )
    .join('; ');
  const nearDeadline = cells.some((c) => (c.lastWriteToEndMs ?? 0) >= ACK_DEADLINE_IN_MS * 0.9);
  return (
    "After its last batch the sync looks at the devices' answers with one bulk twin read (POST /devices/query, " +
    `one request per page of twins) after ${ACK_CHECKS.firstWaitInMs / 1000} s, then after waits that double ` +
    `(10 s, 20 s, 40 s, then every ${ACK_CHECKS.maxWaitInMs / 1000} s, never faster than the last read's pages ` +
    `allow at ${QUERIES_PER_MINUTE} queries per minute), until no connected device holding our document is still ` +
    `to answer or the ${ACK_DEADLINE_IN_MS / 1000} s deadline passes, then makes a final read. ` +
    'Connected devices answer 0.5–5 s after their write, so one look 5 s after the last batch usually finds ' +
    'every connected device answered (or a second look 10 s later does). Offline devices never answer, but ' +
    'they do not hold the phase open: a Disconnected device is classified `offline` at once and is not among ' +
    'the devices the phase awaits (compliance-assessment.ts, `awaitingAnswer`)' +
    (nearDeadline
      ? '; yet a cell here ran to the deadline, so something else kept it waiting (see the log).'
      : ', so the phase does not run to the deadline. ') +
    `Measured — ${timings}.`
  );
}

function write(report: AckReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'ack-phase.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'ack-phase.md'), renderAckMarkdown(report, ackParagraph(report.cells)));
}

export async function runAck(temporal: ReconcileTemporal, options: AckOptions): Promise<void> {
  const report: AckReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: options.command,
    machine: machineDescription(),
    settings: {
      target: 'twin',
      profile: PROFILE,
      seed: options.seed,
      faults: FAULTS,
      answerDelayInMs: '500–5000 (default)',
      IOT_HUB_QUERIES_PER_MINUTE: QUERIES_PER_MINUTE,
      ackDeadlineInMs: ACK_DEADLINE_IN_MS,
    },
    cells: [],
  };
  const outDir = resolve(ROOT, options.outDir);
  for (const fleet of options.fleets) {
    log(`${fleet} devices`);
    const cell = await runCell(fleet, temporal, options);
    log(
      `  ${(cell.wallMs / 1000).toFixed(1)} s, last write → end ${((cell.lastWriteToEndMs ?? 0) / 1000).toFixed(1)} s, ` +
        `${cell.queriesAfterLastWrite} queries after it, ${cell.status429} 429s, compliance ${JSON.stringify(cell.compliance)} ` +
        `vs ${JSON.stringify(cell.emulatorAcknowledgements)}; load ${cell.loadAverage.join('→')}`,
    );
    report.cells.push(cell);
    report.finishedAt = new Date().toISOString();
    write(report, outDir);
  }
  process.stdout.write(renderAckMarkdown(report, ackParagraph(report.cells)));
}
