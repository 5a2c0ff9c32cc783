/**
 * End-to-end support: the product as it runs for real — an emulator speaking Azure's wire contracts over
 * HTTPS, the product's own worker (in-process through createPolicySyncWorker, or `policy-sync worker` in a
 * child process), syncs started as the CLI starts them — and the checks the e2e and chaos suites share:
 * what every device should hold, what it holds, how the metrics moved.
 */
import { readFileSync } from 'node:fs';
import { inspect, isDeepStrictEqual } from 'node:util';
import tls from 'node:tls';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { loadConfig, type WorkerConfig } from '../../src/config';
import { startEmulator, type Emulator, type EmulatorOptions, type EmulatorState } from '../../src/emulator';
import { createLogger } from '../../src/logger';
import { createPolicySyncWorker, type PolicySyncWorker } from '../../src/worker';
import { startManualSync, syncInput } from '../../src/cli/sync-runs';
import type { policySyncWorkflow } from '../../src/workflows';
import { metricsQuery } from '../../src/workflows/messages';
import type { PolicySyncInput, PolicyTarget, RunSummary, SyncMetrics } from '../../src/workflows/types';
import { workflowBundlePath, type TestTemporal } from '../support/temporal';

/** The process's CAs before any emulator was trusted. */
const systemCAs = tls.getCACertificates('default');

/**
 * In-process TLS clients (MSAL, undici) trust this emulator, and only this one: every emulator CA may carry
 * the same subject, so with two trusted OpenSSL could pick the wrong one. One emulator at a time per process.
 */
export function trustEmulator(emulator: Emulator): void {
  tls.setDefaultCACertificates([...systemCAs, emulator.caPem]);
}

/** A hub name of this test alone (3–50 letters, digits, hyphens), so runs on a shared dev server never collide. */
export function uniqueHub(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 50);
}

/** Starts an emulator and makes this process trust it. */
export async function startTrustedEmulator(options: EmulatorOptions): Promise<Emulator> {
  const emulator = await startEmulator(options);
  trustEmulator(emulator);
  return emulator;
}

/** The environment a worker or the CLI gets: the emulator's variables plus Temporal's. */
export function productEnv(
  emulator: Emulator,
  temporal: { address: string },
  taskQueue: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...emulator.env,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...extra,
  };
}

export interface InProcessWorker {
  config: WorkerConfig;
  worker: PolicySyncWorker;
  /** Every log line the worker's logger wrote (JSON, DEBUG and up). */
  logs: string[];
  stop(): Promise<void>;
}

/** The product's worker, built by createPolicySyncWorker from `env` as `policy-sync worker` builds it. */
export async function startInProcessWorker(
  temporal: TestTemporal,
  env: Record<string, string>,
  options: { logLevel?: 'DEBUG' | 'INFO' | 'WARN' } = {},
): Promise<InProcessWorker> {
  const config = loadConfig(env);
  const logs: string[] = [];
  const logger = createLogger({
    format: 'json',
    level: options.logLevel ?? 'DEBUG',
    write: (line) => logs.push(line),
  });
  const worker = await createPolicySyncWorker(config, {
    connection: temporal.nativeConnection,
    logger,
    workflowBundlePath: await workflowBundlePath(),
    shutdownGraceTimeInMs: 2_000,
    // A test's worker never shares its task queue: no need to wait 10 s for sticky tasks of a dead one.
    workerOptions: { stickyQueueScheduleToStartTimeout: '2s' },
  });
  const running = worker.run();
  running.catch(() => undefined);
  return {
    config,
    worker,
    logs,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

const sdkLogLines: string[] = [];
let sdkLogsCaptured = false;

/**
 * The Temporal SDK's own log lines in this process (the test runtime's WARN and up), kept instead of
 * printed: a 403 storm makes hundreds of "Activity failed" warnings, and they are logs to search for
 * secrets. ERROR lines are still printed. Call after connectTestTemporal (which installs the runtime).
 */
export function captureSdkLogs(): string[] {
  if (!sdkLogsCaptured) {
    sdkLogsCaptured = true;
    const logger = Runtime.instance().logger;
    const original = logger.log.bind(logger);
    logger.log = (level, message, meta) => {
      if (level !== 'WARN' && level !== 'ERROR') return;
      sdkLogLines.push(`${level} ${message} ${inspect(meta, { depth: 8, breakLength: Infinity })}`);
      if (level === 'ERROR') original(level, message, meta);
    };
  }
  return sdkLogLines;
}

export type SyncHandle = WorkflowHandleWithFirstExecutionRunId<typeof policySyncWorkflow>;

/** Starts a sync the way `policy-sync run` does (id, search attributes, summary), with input overrides. */
export async function startSync(
  client: Client,
  config: WorkerConfig,
  overrides: Partial<PolicySyncInput> = {},
): Promise<SyncHandle> {
  const input: PolicySyncInput = { ...syncInput(config), ...overrides };
  return startManualSync(client, config, input);
}

export interface ObservedRun {
  summary?: RunSummary;
  error?: unknown;
  /** `metrics` answers, in the order they came, while the run was open. */
  samples: SyncMetrics[];
  wallMs: number;
}

/** Queries `metrics` every `intervalInMs` until the run closes; returns its result (or error) and the samples. */
export async function observeRun(handle: SyncHandle, intervalInMs = 250): Promise<ObservedRun> {
  const started = Date.now();
  const samples: SyncMetrics[] = [];
  let closed = false;
  const result = handle.result().then(
    (summary) => ({ summary }),
    (error: unknown) => ({ error }),
  );
  void result.then(() => (closed = true));
  while (!closed) {
    try {
      const metrics = await handle.query(metricsQuery);
      if (!closed) samples.push(metrics);
    } catch {
      // between runs of continue-as-new, or the worker is away: the next sample will do
    }
    await Promise.race([new Promise((r) => setTimeout(r, intervalInMs)), result]);
  }
  return { ...(await result), samples, wallMs: Date.now() - started };
}

/** Device id → the policy document it should hold, from the files the worker was given. */
export function desiredPolicies(devicesFile: string, policiesFile: string): Map<string, unknown> {
  const devices = JSON.parse(readFileSync(devicesFile, 'utf8')) as { deviceId: string; policy?: string }[];
  const policies = JSON.parse(readFileSync(policiesFile, 'utf8')) as Record<string, unknown>;
  const desired = new Map<string, unknown>();
  for (const { deviceId, policy } of devices) {
    const document = policies[policy ?? 'default'];
    if (document === undefined)
      throw new Error(`fixture error: ${deviceId} names no policy in ${policiesFile}`);
    desired.set(deviceId, document);
  }
  return desired;
}

/** The emulator's desired policies for its own inventory files. */
export function emulatorDesired(emulator: Emulator): Map<string, unknown> {
  return desiredPolicies(emulator.env.DEVICES_FILE!, emulator.env.POLICIES_FILE!);
}

/** What a device holds for the target: the securityPolicies resource, or the twin's desired.securityPolicy. */
export function heldPolicy(state: EmulatorState, deviceId: string, target: PolicyTarget): unknown {
  const device = state.devices[deviceId];
  if (!device) return undefined;
  return target === 'arm' ? device.policy : device.twinPolicy;
}

/**
 * Devices of `desired` that do not hold exactly their document on `target`, and devices outside `desired`
 * that hold anything at all; at most `limit` lines, each saying what is wrong.
 */
export function fleetMismatches(
  state: EmulatorState,
  desired: ReadonlyMap<string, unknown>,
  target: PolicyTarget,
  limit = 10,
): string[] {
  const problems: string[] = [];
  for (const [deviceId, document] of desired) {
    const held = heldPolicy(state, deviceId, target);
    if (!isDeepStrictEqual(held, document))
      problems.push(`${deviceId} holds ${JSON.stringify(held)?.slice(0, 120)}`);
  }
  for (const [deviceId, device] of Object.entries(state.devices)) {
    if (desired.has(deviceId)) continue;
    if (device.policy !== null || device.twinPolicy !== null || device.writes > 0)
      problems.push(`${deviceId} is not in the inventory but was written (${device.writes} writes)`);
  }
  if (problems.length > limit) return [...problems.slice(0, limit), `… ${problems.length - limit} more`];
  return problems;
}

/** 403 answers the emulator gave on the securityPolicies resource (GET and PUT), the calls a device write makes. */
export function securityPolicy403s(emulator: Emulator): number {
  return emulator.requestLog().filter((r) => r.status === 403 && /\/securityPolicies\//i.test(r.path)).length;
}

/** The requests that change something: PUT, PATCH, POST (except token and query endpoints) and DELETE. */
export function mutatingRequests(emulator: Emulator): { method: string; path: string; status: number }[] {
  return emulator
    .requestLog()
    .filter(
      (r) =>
        r.method === 'PUT' ||
        r.method === 'PATCH' ||
        r.method === 'DELETE' ||
        (r.method === 'POST' && !/\/oauth2\/v2\.0\/token$|\/devices\/query$/.test(r.path.split('?')[0]!)),
    )
    .map(({ method, path, status }) => ({ method, path, status }));
}

/** A seeded PRNG (mulberry32), so that "random" kill points are the same at every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether every sample's field is at least the one before it. */
export function nonDecreasing(samples: SyncMetrics[], field: keyof SyncMetrics): boolean {
  return samples.every((m, i) => i === 0 || (m[field] as number) >= (samples[i - 1]![field] as number));
}

/** One line for the test log. */
export function report(tag: string, text: string): void {
  process.stderr.write(`[${tag}] ${text}\n`);
}
