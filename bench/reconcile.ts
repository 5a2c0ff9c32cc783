/**
 * `npm run bench -- --reconcile`: what it costs to reconcile a fleet that (almost) holds its policies, on the
 * throttled profile, for both targets. Per fleet one emulator; per cell (target × scenario) and approach the
 * emulator is reset, the world prepared behind the product's back (emulator.tamperPolicy: every device holds
 * its document; for `drift`, every 100th holds another), and the approach runs against it:
 *
 * - plan: `policy-sync plan --json` called in-process through the CLI's `main` (the bulk observation; it
 *   writes nothing);
 * - sync: `policySyncWorkflow` on our worker in a child process, started as run.ts starts it.
 *
 * The emulator's request log and write counts decide the figures. A new approach is one more entry in
 * RECONCILE_APPROACHES: a sync whose workflow observes in bulk is started the same way (`kind: 'sync'`,
 * with whatever input selects it), only the code inside differs.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import type { Client } from '@temporalio/client';
import { main as cliMain } from '../src/cli/main';
import { startEmulator } from '../src/emulator';
import type { PolicySyncInput, RunSummary } from '../src/workflows/types';
import { failedDeviceCount } from '../src/workflows/failure-ledger';
import { machineDescription } from './process-stats';
import { forkSide, nextMessage, stopChild, ourWorkerEnv } from './child-process';
import { jsonEqual } from './metrics';
import {
  checkReconcileTargets,
  RECONCILE_SCENARIOS,
  RECONCILE_TARGETS,
  renderReconcileMarkdown,
  type ApproachResult,
  type ReconcileCell,
  type ReconcileReport,
  type ReconcileScenario,
  type ReconcileTarget,
} from './reconcile-report';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const ROOT = resolve(__dirname, '..');
/**
 * The CAs before any emulator was trusted: each emulator's CA replaces the last one's (they share a subject,
 * and with two trusted OpenSSL may pick the wrong one).
 */
const SYSTEM_CAS = tls.getCACertificates('default');
const PROFILE = 'throttled';
const RUN_TIMEOUT_MS = 30 * 60_000;

export interface ReconcileApproach {
  name: string;
  description: string;
  kind: 'plan' | 'sync';
  /** sync: merged into policySyncWorkflow's input; a function gets the fleet's device ids. */
  input?: Partial<PolicySyncInput> | ((deviceIds: string[]) => Partial<PolicySyncInput>);
}

/** The columns, in order. */
export const RECONCILE_APPROACHES: ReconcileApproach[] = [
  {
    name: 'plan',
    kind: 'plan',
    description:
      '`policy-sync plan --json`: bulk observation (ARM lists securityPolicies; twin: the IoT Hub device query), ' +
      'compared with the inventory; writes nothing',
  },
  {
    name: 'sync (per-device reads)',
    kind: 'sync',
    description:
      'policySyncWorkflow reading every device with its own GET (what every sync did before it observed in bulk; ' +
      'today the path of a sync of named devices, so it is started with every device id), writing only where it ' +
      'differs; no acknowledgement phase',
    input: (deviceIds) => ({ deviceIds, ackDeadlineInMs: 0 }),
  },
  {
    name: 'sync (bulk observation)',
    kind: 'sync',
    description:
      'policySyncWorkflow as a scheduled sync runs it: the fleet observed once in bulk (ARM list / device query), ' +
      'only drifted devices batched and written; no acknowledgement phase (its cost is a cell of its own)',
    input: { ackDeadlineInMs: 0 },
  },
];

export interface ReconcileTemporal {
  client: Client;
  address: string;
  bundlePath: string;
}

export interface ReconcileOptions {
  fleets: number[];
  seed: number;
  outDir: string;
  command: string;
  workerActivities?: number;
}

function log(message: string): void {
  process.stderr.write(`[bench reconcile ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

interface Inventory {
  devices: { deviceId: string; policy: string }[];
  documents: Record<string, Record<string, unknown>>;
}

function readInventory(env: Record<string, string>): Inventory {
  const rows = JSON.parse(readFileSync(env.DEVICES_FILE ?? '', 'utf8')) as {
    deviceId: string;
    policy?: string;
  }[];
  return {
    devices: rows.map((r) => ({ deviceId: r.deviceId, policy: r.policy ?? 'default' })),
    documents: JSON.parse(readFileSync(env.POLICIES_FILE ?? '', 'utf8')) as Record<
      string,
      Record<string, unknown>
    >,
  };
}

/** Every 100th device (1%) drifts. */
export function isDrifted(index: number, scenario: ReconcileScenario): boolean {
  return scenario === 'drift' && index % 100 === 0;
}

/** Resets the emulator and makes every device hold its document (or, if drifted, another one). */
function prepareWorld(
  emulator: Emulator,
  inventory: Inventory,
  fleet: number,
  target: ReconcileTarget,
  scenario: ReconcileScenario,
): number {
  emulator.reset({ devices: fleet });
  let drifted = 0;
  inventory.devices.forEach(({ deviceId, policy }, index) => {
    const document = inventory.documents[policy];
    if (!document) throw new Error(`the emulator's inventory names a policy '${policy}' it does not hold`);
    if (isDrifted(index, scenario)) {
      drifted++;
      emulator.tamperPolicy(deviceId, { ...document, driftedBehindOurBack: true }, target);
    } else {
      emulator.tamperPolicy(deviceId, document, target);
    }
  });
  return drifted;
}

function isPolicyWrite(record: { method: string; path: string }, target: ReconcileTarget): boolean {
  return target === 'arm'
    ? record.method === 'PUT' && record.path.includes('/securityPolicies/')
    : record.method === 'PATCH' && record.path.includes('/twins/');
}

/** What the emulator saw since its reset. */
function observe(emulator: Emulator, inventory: Inventory, target: ReconcileTarget) {
  const state = emulator.state();
  const log = emulator.requestLog();
  let devicesWritten = 0;
  let inSyncAfter = 0;
  for (const { deviceId, policy } of inventory.devices) {
    const device = state.devices[deviceId];
    if (!device) continue;
    if ((target === 'arm' ? device.armWrites : device.twinWrites) > 0) devicesWritten++;
    const held = target === 'arm' ? device.policy : device.twinPolicy;
    if (jsonEqual(held, inventory.documents[policy])) inSyncAfter++;
  }
  return {
    requests: log.length,
    writeRequests: log.filter((r) => isPolicyWrite(r, target)).length,
    devicesWritten,
    status429: state.requests['429'] ?? 0,
    inSyncAfter,
  };
}

async function runPlan(emulator: Emulator, target: ReconcileTarget): Promise<Record<string, unknown>> {
  let stdout = '';
  let stderr = '';
  const ctx = {
    stdout: { write: (chunk: string) => ((stdout += chunk), true) },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
    env: { ...process.env, ...emulator.env, POLICY_TARGET: target },
    signal: new AbortController().signal,
  };
  const code = await cliMain(['plan', '--json'], ctx);
  if (code !== 0) throw new Error(`plan exited ${code}: ${stderr.trim().split('\n').slice(-2).join(' / ')}`);
  const plan = JSON.parse(stdout) as { counts: Record<string, number> };
  return { counts: plan.counts, ...(stderr.trim() ? { notes: stderr.trim() } : {}) };
}

async function runSync(
  emulator: Emulator,
  deviceIds: string[],
  target: ReconcileTarget,
  approach: ReconcileApproach,
  temporal: ReconcileTemporal,
  options: ReconcileOptions,
  label: string,
): Promise<{ wallMs: number; reported: Record<string, unknown> }> {
  const taskQueue = `bench-reconcile-${randomUUID()}`;
  const child = await forkSide(
    'bench/ours/worker-process.ts',
    ourWorkerEnv(emulator, temporal, taskQueue, {
      POLICY_TARGET: target,
      ...(options.workerActivities
        ? { WORKER_MAX_CONCURRENT_ACTIVITIES: String(options.workerActivities) }
        : {}),
    }),
    join(ROOT, 'bench', 'results', 'tmp', `reconcile-${label.replace(/[^a-z0-9]+/gi, '-')}.log`),
  );
  const stopped = nextMessage(child, 'stopped', RUN_TIMEOUT_MS + 60_000).catch(() => undefined);
  try {
    const hub = emulator.env.IOT_HUB_NAME ?? 'hub';
    const extra = typeof approach.input === 'function' ? approach.input(deviceIds) : (approach.input ?? {});
    const input: PolicySyncInput = { hub, target, ...extra };
    const started = Date.now();
    const handle = await temporal.client.workflow.start('policySyncWorkflow', {
      taskQueue,
      workflowId: `iot-policy-sync-${hub}-reconcile-${randomUUID()}`,
      args: [input],
      workflowExecutionTimeout: RUN_TIMEOUT_MS,
    });
    const summary = (await handle.result()) as RunSummary;
    const wallMs = Date.now() - started;
    child.send({ type: 'shutdown' });
    await stopped;
    return {
      wallMs,
      reported: {
        succeeded: summary.succeeded,
        unchanged: summary.unchanged,
        failed: failedDeviceCount(summary),
        throttled: summary.throttled,
      },
    };
  } finally {
    await stopChild(child);
  }
}

async function runApproach(
  emulator: Emulator,
  inventory: Inventory,
  cell: Omit<ReconcileCell, 'approaches' | 'drifted'>,
  approach: ReconcileApproach,
  temporal: ReconcileTemporal,
  options: ReconcileOptions,
): Promise<{ result: ApproachResult; drifted: number }> {
  const label = `${cell.target}-${cell.scenario}-${cell.fleet}-${approach.name}`;
  const drifted = prepareWorld(emulator, inventory, cell.fleet, cell.target, cell.scenario);
  const loadAtStart = Number((loadavg()[0] ?? 0).toFixed(2));
  const started = Date.now();
  let wallMs: number;
  let reported: Record<string, unknown> = {};
  let error: string | undefined;
  try {
    if (approach.kind === 'plan') {
      reported = await runPlan(emulator, cell.target);
      wallMs = Date.now() - started;
    } else {
      ({ wallMs, reported } = await runSync(
        emulator,
        inventory.devices.map((d) => d.deviceId),
        cell.target,
        approach,
        temporal,
        options,
        label,
      ));
    }
  } catch (e) {
    wallMs = Date.now() - started;
    error = e instanceof Error ? e.message : String(e);
    log(`${label}: ${error}`);
  }
  const result: ApproachResult = {
    approach: approach.name,
    wallMs,
    ...observe(emulator, inventory, cell.target),
    reported,
    loadAverage: [loadAtStart, Number((loadavg()[0] ?? 0).toFixed(2))],
    ...(error ? { error } : {}),
  };
  return { result, drifted };
}

function write(report: ReconcileReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  report.targets = checkReconcileTargets(report.cells);
  writeFileSync(join(outDir, 'reconcile.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'reconcile.md'), renderReconcileMarkdown(report));
}

export async function runReconcile(temporal: ReconcileTemporal, options: ReconcileOptions): Promise<void> {
  const report: ReconcileReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: options.command,
    machine: machineDescription(),
    profile: PROFILE,
    emulatorSeed: options.seed,
    approaches: RECONCILE_APPROACHES.map(({ name, description }) => ({ name, description })),
    cells: [],
    targets: [],
  };
  const outDir = resolve(ROOT, options.outDir);
  for (const fleet of options.fleets) {
    const emulator = await startEmulator({ port: 0, devices: fleet, profile: PROFILE, seed: options.seed });
    // The plan runs in this process: its TLS clients (MSAL, undici) must trust the emulator.
    tls.setDefaultCACertificates([...SYSTEM_CAS, emulator.caPem]);
    try {
      const inventory = readInventory(emulator.env);
      for (const target of RECONCILE_TARGETS) {
        for (const scenario of RECONCILE_SCENARIOS) {
          const cell: ReconcileCell = { target, scenario, fleet, drifted: 0, approaches: [] };
          for (const approach of RECONCILE_APPROACHES) {
            log(`${target} · ${scenario} · ${fleet}: ${approach.name}`);
            const { result, drifted } = await runApproach(
              emulator,
              inventory,
              cell,
              approach,
              temporal,
              options,
            );
            cell.drifted = drifted;
            cell.approaches.push(result);
            log(
              `  ${(result.wallMs / 1000).toFixed(1)} s, ${result.requests} requests ` +
                `(${(result.requests / fleet).toFixed(4)}/device), ${result.devicesWritten} written, ` +
                `${result.status429} 429s, ${result.inSyncAfter}/${fleet} in sync; load ${result.loadAverage.join('→')}`,
            );
          }
          report.cells.push(cell);
          report.finishedAt = new Date().toISOString();
          write(report, outDir);
        }
      }
    } finally {
      await emulator.close();
    }
  }
  report.finishedAt = new Date().toISOString();
  write(report, outDir);
  process.stdout.write(renderReconcileMarkdown(report));
}
