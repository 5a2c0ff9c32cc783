/**
 * The harness every test file uses: the run's shared dev server (or its own when the file runs alone),
 * a worker per test file on a unique task queue, and helpers to read histories.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  DefaultLogger,
  type WorkerOptions,
} from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';

export interface TestTemporal {
  address: string;
  namespace: string;
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  /** A task queue unique to this test file. */
  taskQueue: string;
  close(): Promise<void>;
}

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** Connects to the run's dev server, or starts one for this file when run on its own. */
export async function connectTestTemporal(): Promise<TestTemporal> {
  quietRuntime();
  let ownServer: DevServer | undefined;
  let address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) {
    ownServer = await startDevServer({ ui: false });
    address = ownServer.address;
  }
  const namespace = 'default';
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  return {
    address,
    namespace,
    client,
    connection,
    nativeConnection,
    taskQueue: `test-${randomUUID()}`,
    async close() {
      await connection.close();
      await nativeConnection.close();
      await ownServer?.stop();
    },
  };
}

/** Workflow code for test workers: the run's prebuilt bundle, else the source folder. */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = process.env.TEST_WORKFLOW_BUNDLE;
  return bundle
    ? { workflowBundle: { codePath: bundle } }
    : { workflowsPath: require.resolve('../../src/workflows') };
}

let processBundle: Promise<string> | undefined;

/**
 * Like workflowSource(), but when no prebuilt bundle is shared (a file run alone), bundles once per process
 * instead of once per worker.
 */
export async function sharedWorkflowSource(): Promise<
  Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>
> {
  if (process.env.TEST_WORKFLOW_BUNDLE) return workflowSource();
  processBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  }).then((bundle) => bundle.code);
  return { workflowBundle: { code: await processBundle } };
}

/** A file holding the workflow bundle, for workers in other processes: the run's shared one, or this process's. */
export async function workflowBundlePath(): Promise<string> {
  if (process.env.TEST_WORKFLOW_BUNDLE) return process.env.TEST_WORKFLOW_BUNDLE;
  const source = await sharedWorkflowSource();
  const code = source.workflowBundle && 'code' in source.workflowBundle ? source.workflowBundle.code : '';
  const path = join(mkdtempSync(join(tmpdir(), 'iot-policy-sync-bundle-')), 'workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

export async function createTestWorker(
  env: TestTemporal,
  options: Omit<WorkerOptions, 'connection' | 'taskQueue' | 'workflowsPath' | 'workflowBundle'> & {
    taskQueue?: string;
  },
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue: options.taskQueue ?? env.taskQueue,
    ...(await sharedWorkflowSource()),
    ...options,
  });
}

/** Runs `fn` while the worker polls, then shuts the worker down. */
export async function withWorker<T>(worker: Worker, fn: () => Promise<T>): Promise<T> {
  return worker.runUntil(fn);
}

export async function historyOf(handle: WorkflowHandle): Promise<temporal.api.history.v1.IHistory> {
  return handle.fetchHistory();
}

export function historyEventCount(history: temporal.api.history.v1.IHistory): number {
  return history.events?.length ?? 0;
}

/** Waits until `predicate` holds, polling; fails with `what` after the timeout. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  predicate: (value: T) => boolean,
  timeoutInMs = 60_000,
  intervalInMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (predicate(last)) return last;
    } catch {
      // not yet: keep probing until the deadline
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalInMs));
  }
}

/** Where replay fixtures live; test/workflows/replay.test.ts replays every JSON file here. */
export const HISTORY_FIXTURES_DIR = join(__dirname, '..', 'fixtures', 'histories');

/**
 * Writes the handle's history as a replay fixture (the JSON the Temporal CLI and UI export), when the
 * environment asks for it: `RECORD_HISTORY_FIXTURES=1 npm test`. Otherwise a no-op, so that ordinary runs do
 * not rewrite committed fixtures.
 */
export async function recordHistoryFixture(
  handle: WorkflowHandle,
  name: string,
): Promise<string | undefined> {
  if (!process.env.RECORD_HISTORY_FIXTURES) return undefined;
  const history = await handle.fetchHistory();
  mkdirSync(HISTORY_FIXTURES_DIR, { recursive: true });
  const path = join(HISTORY_FIXTURES_DIR, `${name}.json`);
  writeFileSync(path, `${historyToJSON(history)}\n`);
  return path;
}

export interface RunOfChain {
  runId: string;
  events: number;
  /** The run's history ends with continue-as-new. */
  continuedAsNew: boolean;
}

/** Every run of a workflow's continue-as-new chain, from its first run, with its history length. */
export async function continueAsNewChain(
  client: Client,
  workflowId: string,
  firstRunId: string,
): Promise<RunOfChain[]> {
  const runs: RunOfChain[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: temporal.api.history.v1.IHistory = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const events = history.events ?? [];
    const next: string | null | undefined =
      events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    runs.push({ runId, events: events.length, continuedAsNew: Boolean(next) });
    runId = next ?? undefined;
  }
  return runs;
}
