/**
 * `npm run bench`: the seed's script and our Temporal sync, side by side, against the same emulated world.
 *
 * One Temporal dev server for the whole run. Per cell (profile × fleet) one emulator; before each side the
 * emulator is reset (fresh devices, request counts and propagation clock, same seed), the side's process is
 * already loaded and waiting, and the clock starts with its `go`. Each side runs in a child process of its
 * own (the seed script; our worker) so its peak memory is its own. Results go to bench/results/latest.*
 * after every cell, so an interrupted run keeps what it measured.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../src/devserver/dev-server';
import { startEmulator, type FaultOverrides } from '../src/emulator';
import type { PolicySyncInput, RunSummary } from '../src/workflows/types';
import { failedDeviceCount } from '../src/workflows/failure-ledger';
import { benchMatrix, parseBenchArgs, UsageError, type BenchArgs, type Cell } from './args';
import {
  countInSync,
  sustainedWriteRate,
  type BenchReport,
  type CellResult,
  type SideResult,
  type WriteRecord,
} from './metrics';
import { forkSide, nextMessage, stopChild } from './child-process';
import { cpuMsSince, processCpuMs, machineDescription } from './process-stats';
import { runAck } from './ack';
import { runReconcile, type ReconcileTemporal } from './reconcile';
import { checkTargets, renderMarkdown, renderSvg } from './report';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const ROOT = resolve(__dirname, '..');
/** A side that has not finished by then is stopped and reported as an error (bounded run). */
const SIDE_TIMEOUT_MS = 45 * 60_000;

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

interface Inventory {
  devices: { deviceId: string; policy: string }[];
  documents: Record<string, unknown>;
}

function readInventory(env: Record<string, string>): Inventory {
  const devicesFile = env.DEVICES_FILE;
  const policiesFile = env.POLICIES_FILE;
  if (!devicesFile || !policiesFile) throw new Error('the emulator printed no DEVICES_FILE / POLICIES_FILE');
  const rows = JSON.parse(readFileSync(devicesFile, 'utf8')) as { deviceId: string; policy?: string }[];
  return {
    devices: rows.map((r) => ({ deviceId: r.deviceId, policy: r.policy ?? 'default' })),
    documents: JSON.parse(readFileSync(policiesFile, 'utf8')) as Record<string, unknown>,
  };
}

/** What the emulator saw between the reset and now: statuses, writes, devices in sync. */
function observeEmulator(emulator: Emulator, inventory: Inventory, fleet: number, startedAtMs: number) {
  const state = emulator.state();
  if (process.env.BENCH_DUMP_REQUESTS) {
    // Debugging aid: every request of this side, for timeline analysis.
    const file = join(ROOT, 'bench', 'results', 'tmp', `requests-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(emulator.requestLog()));
    log(`request log in ${file}`);
  }
  const bucket = state.settings.throttling.armWrites;
  const requests = emulator.requestLog();
  const writes: WriteRecord[] = requests
    .filter((r) => r.method === 'PUT' && r.path.includes('/securityPolicies/'))
    .map((r) => ({ atMs: Date.parse(r.at), status: r.status }));
  const totalRequests = requests.length;
  const okWrites = writes.filter((w) => w.status >= 200 && w.status < 300);
  const since = (ms: number) => (Number.isFinite(ms) ? ms - startedAtMs : null);
  return {
    requestsByStatus: { ...state.requests } as Record<string, number>,
    requestsPerDevice: totalRequests / fleet,
    writeAttempts: writes.length,
    write429s: writes.filter((w) => w.status === 429).length,
    // Only meaningful where ARM meters writes (throttled, hostile).
    sustainedWritesPerSec: bucket ? sustainedWriteRate(writes, bucket.burst) : null,
    faults: { ...state.faults },
    inSync: countInSync(state.devices, inventory.devices, inventory.documents),
    timeline: {
      firstRequestMs: since(requests.reduce((min, r) => Math.min(min, Date.parse(r.at)), Infinity)),
      firstWriteMs: since(writes.reduce((min, w) => Math.min(min, w.atMs), Infinity)),
      lastWriteOkMs: since(okWrites.reduce((max, w) => Math.max(max, w.atMs), -Infinity)),
    },
  };
}

/** CPU spent by each process of a side, and the machine's load, between `startMeter` and `stop`. */
function startMeter(serverPid: number | undefined) {
  const driverAtStart = process.cpuUsage();
  const serverAtStart = processCpuMs(serverPid);
  const loadAtStart = loadavg()[0] ?? 0;
  return {
    stop(sideCpuMs: number | undefined): SideResult['resources'] {
      const serverNow = processCpuMs(serverPid);
      return {
        sideCpuMs: sideCpuMs ?? null,
        temporalServerCpuMs:
          serverNow !== undefined && serverAtStart !== undefined ? serverNow - serverAtStart : null,
        emulatorAndDriverCpuMs: cpuMsSince(driverAtStart),
        loadAverage: [Number(loadAtStart.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
      };
    },
  };
}

/** Where a side's process writes its stderr (the worker's warnings, the script's errors). */
function sideLog(side: 'baseline' | 'ours', cell: Cell): string {
  return join(ROOT, 'bench', 'results', 'tmp', `${side}-${cell.profile}-${cell.fleet}.log`);
}

function sideEnv(emulator: Emulator, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...emulator.env,
    NODE_EXTRA_CA_CERTS: emulator.caBundlePath,
    ...extra,
  };
}

async function runBaseline(
  emulator: Emulator,
  cell: Cell,
  inventory: Inventory,
  args: BenchArgs,
  serverPid: number | undefined,
): Promise<SideResult> {
  const child = await forkSide(
    'bench/baseline/seed-script.ts',
    sideEnv(emulator, { SEED_TOKEN_RESET: args.baselineTokenReset }),
    sideLog('baseline', cell),
  );
  try {
    await emulator.reset({ devices: cell.fleet });
    const meter = startMeter(serverPid);
    const started = Date.now();
    const done = nextMessage<{
      result: Record<string, unknown> & { failureCount: number; peakRssBytes?: number; cpuMs?: number };
    }>(child, 'result', SIDE_TIMEOUT_MS);
    child.send({ type: 'go' });
    const { result } = await done;
    const wallMs = Date.now() - started;
    const { peakRssBytes, cpuMs, ...reported } = result;
    return {
      resources: meter.stop(cpuMs),
      side: 'baseline',
      wallMs,
      devices: cell.fleet,
      failures: result.failureCount,
      peakRssBytes: peakRssBytes ?? null,
      reported,
      ...observeEmulator(emulator, inventory, cell.fleet, started),
    };
  } finally {
    await stopChild(child);
  }
}

/** History events of every run of the parent, following continue-as-new, and the children it started. */
async function parentRuns(client: Client, workflowId: string, firstRunId: string) {
  const events: number[] = [];
  let children = 0;
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const list = history.events ?? [];
    events.push(list.length);
    children += list.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
    runId = list.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return { events, children };
}

async function runOurs(
  emulator: Emulator,
  cell: Cell,
  inventory: Inventory,
  args: BenchArgs,
  temporal: { client: Client; address: string; bundlePath: string; serverPid: number | undefined },
): Promise<SideResult> {
  const taskQueue = `bench-${randomUUID()}`;
  const child = await forkSide(
    'bench/ours/worker-process.ts',
    sideEnv(emulator, {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      BENCH_WORKFLOW_BUNDLE: temporal.bundlePath,
      POLICY_TARGET: 'arm',
      ...(args.workerActivities ? { WORKER_MAX_CONCURRENT_ACTIVITIES: String(args.workerActivities) } : {}),
      ...(args.noopWrites ? { BENCH_NOOP_WRITES: '1' } : {}),
      ...(Object.keys(args.workerOptions).length
        ? { BENCH_WORKER_OPTIONS: JSON.stringify(args.workerOptions) }
        : {}),
    }),
    sideLog('ours', cell),
  );
  const stopped = nextMessage<{ peakRssBytes?: number; cpuMs?: number }>(
    child,
    'stopped',
    SIDE_TIMEOUT_MS + 60_000,
  ).catch(() => ({ peakRssBytes: undefined, cpuMs: undefined }));
  const hub = emulator.env.IOT_HUB_NAME ?? 'hub';
  const workflowId = `iot-policy-sync-${hub}-bench-${cell.profile}-${cell.fleet}-${Date.now()}`;
  let summary: RunSummary | undefined;
  let error: string | undefined;
  try {
    await emulator.reset({ devices: cell.fleet });
    const input: PolicySyncInput = { hub, target: 'arm', ...(args.oursInput as Partial<PolicySyncInput>) };
    const meter = startMeter(temporal.serverPid);
    const started = Date.now();
    const handle = await temporal.client.workflow.start('policySyncWorkflow', {
      taskQueue,
      workflowId,
      args: [input],
      workflowExecutionTimeout: SIDE_TIMEOUT_MS,
    });
    try {
      summary = (await handle.result()) as RunSummary;
    } catch (e) {
      error =
        e instanceof Error
          ? `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`
          : String(e);
    }
    const wallMs = Date.now() - started;
    const measured = meter.stop(undefined);
    const observed = observeEmulator(emulator, inventory, cell.fleet, started);
    child.send({ type: 'shutdown' });
    const { peakRssBytes, cpuMs } = await stopped;
    // The worker's CPU time is read when it stops (a moment after the end), the others' at the end.
    const resources = measured ? { ...measured, sideCpuMs: cpuMs ?? null } : null;
    const runs = await parentRuns(temporal.client, workflowId, handle.firstExecutionRunId);
    return {
      resources,
      side: 'ours',
      wallMs,
      devices: cell.fleet,
      failures: summary ? failedDeviceCount(summary) : cell.fleet - observed.inSync,
      peakRssBytes: peakRssBytes ?? null,
      parentRunEvents: runs.events,
      childWorkflows: runs.children,
      reported: summary
        ? {
            succeeded: summary.succeeded,
            unchanged: summary.unchanged,
            failed: failedDeviceCount(summary),
            authErrors: summary.authErrors,
            throttled: summary.throttled,
            durationMs: summary.durationMs,
            alerts: summary.alerts.map((a) => a.kind),
            failedCodes: countBy(summary.failed.map((f) => f.code)),
          }
        : {},
      ...(error ? { error } : {}),
      ...observed,
    };
  } finally {
    await stopChild(child);
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

function failedSide(side: 'baseline' | 'ours', fleet: number, error: unknown): SideResult {
  return {
    side,
    wallMs: 0,
    devices: fleet,
    inSync: 0,
    failures: fleet,
    requestsByStatus: {},
    requestsPerDevice: 0,
    writeAttempts: 0,
    write429s: 0,
    sustainedWritesPerSec: null,
    peakRssBytes: null,
    resources: null,
    reported: {},
    error: error instanceof Error ? error.message : String(error),
  };
}

/** Waits (at most 3 minutes) for the machine's 1-minute load average to come down to `max`. */
async function waitForLoad(max: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  let said = false;
  while ((loadavg()[0] ?? 0) > max && Date.now() < deadline) {
    if (!said) log(`waiting for the load average (${(loadavg()[0] ?? 0).toFixed(1)}) to come down to ${max}`);
    said = true;
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

function writeResults(report: BenchReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  report.targets = checkTargets(report.cells);
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(report));
  writeFileSync(join(outDir, 'latest.svg'), renderSvg(report));
}

function summaryLine(cell: CellResult): string {
  const part = (s: SideResult | undefined) =>
    s
      ? s.error
        ? `${s.side} ERROR ${s.error}`
        : `${s.side} ${(s.wallMs / 1000).toFixed(1)} s, ${s.inSync}/${s.devices} in sync, 403=${s.requestsByStatus['403'] ?? 0} 429=${s.requestsByStatus['429'] ?? 0}`
      : '';
  return [part(cell.baseline), part(cell.ours)].filter(Boolean).join(' | ');
}

function commandLine(): string {
  return ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
}

/** One dev server and one workflow bundle for a whole run. */
async function withTemporal<T>(body: (temporal: ReconcileTemporal) => Promise<T>): Promise<T> {
  const tmpDir = join(ROOT, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const server = await startDevServer({ ui: false });
  log(`Temporal dev server at ${server.address}`);
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const bundlePath = join(tmpDir, `workflow-bundle-${process.pid}.js`);
    writeFileSync(bundlePath, code);
    const connection = await Connection.connect({ address: server.address });
    try {
      return await body({
        client: new Client({ connection, namespace: 'default' }),
        address: server.address,
        bundlePath,
      });
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (args.reconcile && args.ack) {
    process.stderr.write('--reconcile and --ack are two different runs: pick one\n');
    process.exit(2);
  }
  if (args.ack) {
    await withTemporal((temporal) =>
      runAck(temporal, {
        fleets: args.fleets.length ? args.fleets : [300, 1_000],
        seed: args.seed,
        outDir: args.outDir,
        command: commandLine(),
      }),
    );
    return;
  }
  if (args.reconcile) {
    await withTemporal((temporal) =>
      runReconcile(temporal, {
        fleets: args.fleets.length ? args.fleets : [1_000],
        seed: args.seed,
        outDir: args.outDir,
        command: commandLine(),
        ...(args.workerActivities ? { workerActivities: args.workerActivities } : {}),
      }),
    );
    return;
  }
  const { cells, note } = benchMatrix(args);
  log(note);
  log(`cells: ${cells.map((c) => `${c.profile}×${c.fleet}`).join(', ')}; sides: ${args.sides.join(', ')}`);
  const outDir = resolve(ROOT, args.outDir);
  const tmpDir = join(ROOT, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });

  const server = await startDevServer({ ui: false });
  log(`Temporal dev server at ${server.address}`);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const bundlePath = join(tmpDir, `workflow-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, code);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });

  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
      ' ',
    ),
    machine: { ...machineDescription(), platform: `${process.platform}-${process.arch}` },
    matrixNote: note,
    settings: {
      emulatorSeed: args.seed,
      emulatorFaults: args.faults,
      oursInput: args.oursInput,
      workerMaxConcurrentActivities: args.workerActivities ?? null,
      workerOptions: args.workerOptions,
      noopWrites: args.noopWrites,
      baselineTokenReset: args.baselineTokenReset,
    },
    cells: [],
    targets: [],
  };

  try {
    for (const cell of cells) {
      log(`cell ${cell.profile} × ${cell.fleet}: starting the emulator`);
      const emulator = await startEmulator({
        port: 0,
        devices: cell.fleet,
        profile: cell.profile,
        seed: args.seed,
        faults: args.faults as FaultOverrides,
      });
      const result: CellResult = { profile: cell.profile, fleet: cell.fleet };
      try {
        const inventory = readInventory(emulator.env);
        for (const side of args.sides) {
          if (args.maxLoad !== undefined) await waitForLoad(args.maxLoad);
          log(`cell ${cell.profile} × ${cell.fleet}: ${side}`);
          try {
            result[side] =
              side === 'baseline'
                ? await runBaseline(emulator, cell, inventory, args, server.process.pid)
                : await runOurs(emulator, cell, inventory, args, {
                    client,
                    address: server.address,
                    bundlePath,
                    serverPid: server.process.pid,
                  });
          } catch (error) {
            log(`cell ${cell.profile} × ${cell.fleet}: ${side} failed: ${String(error)}`);
            result[side] = failedSide(side, cell.fleet, error);
          }
        }
      } finally {
        await emulator.close();
      }
      log(`cell ${cell.profile} × ${cell.fleet}: ${summaryLine(result)}`);
      report.cells.push(result);
      report.finishedAt = new Date().toISOString();
      writeResults(report, outDir);
    }
  } finally {
    await connection.close();
    await server.stop();
  }
  report.finishedAt = new Date().toISOString();
  writeResults(report, outDir);
  process.stdout.write(renderMarkdown(report));
  log(`wrote ${join(args.outDir, 'latest.json')}, latest.md and latest.svg`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
