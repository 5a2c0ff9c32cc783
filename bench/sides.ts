/**
 * One side of one benchmark cell against an emulator that is reset right before it: the seed's script, or
 * our worker (this checkout's, or another checkout's for the `before` side) with policySyncWorkflow started
 * by name. Shared by the matrix (bench/run.ts) and the propagation storms (bench/storms.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { startEmulator } from '../src/emulator';
import type { PolicySyncInput, RunSummary } from '../src/workflows/types';
import { failedDeviceCount } from '../src/workflows/failure-ledger';
import type { BenchArgs } from './args';
import { forkSide, nextMessage, stopChild } from './child-process';
import { countInSync, sustainedWriteRate, type Side, type SideResult, type WriteRecord } from './metrics';
import { cpuMsSince, processCpuMs } from './process-stats';
import { requestBreakdown } from './request-breakdown';

export type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const ROOT = resolve(__dirname, '..');
/** A side that has not finished by then is stopped and reported as an error (bounded run). */
export const SIDE_TIMEOUT_MS = 45 * 60_000;

/** What a side needs to know of its cell: the fleet, and a name for its log file. */
export interface SideCell {
  fleet: number;
  /** Safe in a file name: letters, digits, hyphens. */
  slug: string;
}

export interface Inventory {
  devices: { deviceId: string; policy: string }[];
  documents: Record<string, unknown>;
}

export function readInventory(env: Record<string, string>): Inventory {
  const devicesFile = env.DEVICES_FILE;
  const policiesFile = env.POLICIES_FILE;
  if (!devicesFile || !policiesFile) throw new Error('the emulator printed no DEVICES_FILE / POLICIES_FILE');
  const rows = JSON.parse(readFileSync(devicesFile, 'utf8')) as { deviceId: string; policy?: string }[];
  return {
    devices: rows.map((r) => ({ deviceId: r.deviceId, policy: r.policy ?? 'default' })),
    documents: JSON.parse(readFileSync(policiesFile, 'utf8')) as Record<string, unknown>,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** What the emulator saw between the reset and now: statuses, writes, requests by kind, devices in sync. */
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
  const requestCounts = requestBreakdown(requests, {
    responsesByStatus: state.requests,
    dropped: state.faults.dropped,
  });
  const okWrites = writes.filter((w) => w.status >= 200 && w.status < 300);
  const since = (ms: number) => (Number.isFinite(ms) ? ms - startedAtMs : null);
  return {
    requestsByStatus: { ...state.requests } as Record<string, number>,
    requestsPerDevice: requestCounts.total / fleet,
    requestCounts,
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
function sideLog(side: Side, cell: SideCell): string {
  return join(ROOT, 'bench', 'results', 'tmp', `${side}-${cell.slug}.log`);
}

function sideEnv(emulator: Emulator, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...emulator.env,
    NODE_EXTRA_CA_CERTS: emulator.caBundlePath,
    ...extra,
  };
}

export async function runBaseline(
  emulator: Emulator,
  cell: SideCell,
  inventory: Inventory,
  args: Pick<BenchArgs, 'baselineTokenReset'>,
  serverPid: number | undefined,
): Promise<SideResult> {
  const child = await forkSide(
    'bench/baseline/seed-script.ts',
    sideEnv(emulator, { SEED_TOKEN_RESET: args.baselineTokenReset }),
    sideLog('baseline', cell),
  );
  try {
    emulator.reset({ devices: cell.fleet });
    const resetAt = Date.now();
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
      resetToStartMs: started - resetAt,
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
    if (process.env.BENCH_DUMP_HISTORIES) {
      const ms = (e: temporal.api.history.v1.IHistoryEvent) =>
        Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
      const dump = async (id: string) => {
        const h = await client.workflow.getHandle(id).fetchHistory();
        return (h.events ?? []).map((e) => [ms(e), String(e.eventType)]);
      };
      const all: Record<string, unknown> = { parent: list.map((e) => [ms(e), String(e.eventType)]) };
      for (const e of list) {
        const id = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
        if (id) all[id] = await dump(id);
      }
      writeFileSync(
        join(ROOT, 'bench', 'results', 'tmp', `histories-${Date.now()}.json`),
        JSON.stringify(all),
      );
    }
    runId = list.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return { events, children };
}

/**
 * Where a worker side's code comes from: `ours` is this checkout; `before` another one, whose
 * bench/ours/worker-process.ts runs there (its node_modules, its src) with its own workflow bundle.
 */
export interface WorkerSource {
  side: Extract<Side, 'ours' | 'before'>;
  /** The checkout: the worker process's cwd and where its script is. */
  root: string;
  /** That checkout's workflow code, bundled (BENCH_WORKFLOW_BUNDLE). */
  bundlePath: string;
}

export interface BenchTemporal {
  client: Client;
  address: string;
  serverPid: number | undefined;
}

export type WorkerSideArgs = Pick<
  BenchArgs,
  'workerActivities' | 'noopWrites' | 'workerOptions' | 'oursInput'
>;

export async function runWorkerSide(
  emulator: Emulator,
  cell: SideCell,
  inventory: Inventory,
  args: WorkerSideArgs,
  temporal: BenchTemporal,
  source: WorkerSource,
): Promise<SideResult> {
  // A task queue per side and cell: `before` and `ours` never take each other's tasks.
  const taskQueue = `bench-${source.side}-${randomUUID()}`;
  const child = await forkSide(
    'bench/ours/worker-process.ts',
    sideEnv(emulator, {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      BENCH_WORKFLOW_BUNDLE: source.bundlePath,
      POLICY_TARGET: 'arm',
      ...(args.workerActivities ? { WORKER_MAX_CONCURRENT_ACTIVITIES: String(args.workerActivities) } : {}),
      ...(args.noopWrites ? { BENCH_NOOP_WRITES: '1' } : {}),
      ...(Object.keys(args.workerOptions).length
        ? { BENCH_WORKER_OPTIONS: JSON.stringify(args.workerOptions) }
        : {}),
    }),
    sideLog(source.side, cell),
    source.root,
  );
  const stopped = nextMessage<{ peakRssBytes?: number; cpuMs?: number }>(
    child,
    'stopped',
    SIDE_TIMEOUT_MS + 60_000,
  ).catch(() => ({ peakRssBytes: undefined, cpuMs: undefined }));
  const hub = emulator.env.IOT_HUB_NAME ?? 'hub';
  const workflowId = `iot-policy-sync-${hub}-bench-${source.side}-${cell.slug}-${Date.now()}`;
  let summary: RunSummary | undefined;
  let error: string | undefined;
  try {
    emulator.reset({ devices: cell.fleet });
    const resetAt = Date.now();
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
      side: source.side,
      wallMs,
      resetToStartMs: started - resetAt,
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

export function failedSide(side: Side, fleet: number, error: unknown): SideResult {
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
export async function waitForLoad(max: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  let said = false;
  while ((loadavg()[0] ?? 0) > max && Date.now() < deadline) {
    if (!said) log(`waiting for the load average (${(loadavg()[0] ?? 0).toFixed(1)}) to come down to ${max}`);
    said = true;
    await new Promise((r) => setTimeout(r, 5_000));
  }
}
