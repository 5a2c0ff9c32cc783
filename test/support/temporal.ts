/**
 * The harness every test file uses: the run's shared dev server (or its own when the file runs alone),
 * a worker per test file on a unique task queue, and helpers to read histories.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger, type WorkerOptions } from '@temporalio/worker';
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
  return bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../../src/workflows') };
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
    ...workflowSource(),
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
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalInMs));
  }
}
