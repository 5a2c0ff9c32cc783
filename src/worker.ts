/**
 * The composition root: config → credential and dependencies → createActivities → Worker.
 * Used by `policy-sync worker` (production and docker-compose), in-process by the demo, the tests and
 * the benchmarks.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, createActivityDeps } from './activities';
import type { PolicySyncActivities } from './domain/activity-contract';
import { temporalConnectionOptions } from './client';
import type { WorkerConfig } from './config';
import { createLogger, type Logger } from './logger';
import { projectRoot, runningCompiled } from './project-root';

export interface PolicySyncWorkerOptions {
  /** Activities to register; built once from `config` when unset (tests and benchmarks may inject fakes). */
  activities?: PolicySyncActivities;
  /** A connection to share; else one is opened from `config.temporal` and closed when the worker stops. */
  connection?: NativeConnection;
  /**
   * Pre-bundled workflow code. @default dist/workflow-bundle.js when running compiled code and the file
   * exists, else the sources (src/workflows, bundled at start-up).
   */
  workflowBundlePath?: string;
  /** @default a JSON logger on stderr (plain on a terminal) */
  logger?: Logger;
  /** How long running activities get to finish after a shutdown request. @default 30000 */
  shutdownGraceTimeInMs?: number;
  /** @default `policy-sync@{hostname}/{pid}` */
  identity?: string;
  /** Extra Worker options (tuning in benchmarks). */
  workerOptions?: Partial<Omit<WorkerOptions, 'connection' | 'taskQueue' | 'activities'>>;
}

export interface PolicySyncWorker {
  readonly worker: Worker;
  readonly taskQueue: string;
  /** Polls until `shutdown()` or SIGINT/SIGTERM (through the Temporal runtime), then closes what it opened. */
  run(): Promise<void>;
  /** Asks the worker to stop: no new tasks, running activities get the grace time. */
  shutdown(): void;
}

/** Where the worker's workflow code comes from (see PolicySyncWorkerOptions.workflowBundlePath). */
export function workflowSource(bundlePath?: string): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundlePath) return { workflowBundle: { codePath: bundlePath } };
  const built = join(projectRoot(), 'dist', 'workflow-bundle.js');
  // From the sources (tsx), a bundle left by an earlier build may be stale: bundle the sources instead.
  if (runningCompiled() && existsSync(built)) return { workflowBundle: { codePath: built } };
  return { workflowsPath: require.resolve('./workflows') };
}

let runtimeInstalled = false;

/** The metrics endpoint's `host:port` (an IPv6 address in brackets), or undefined when metrics are off. */
export function metricsBindAddress(config: WorkerConfig): string | undefined {
  const { metricsPort, metricsHost } = config.worker;
  if (!metricsPort) return undefined;
  return `${metricsHost.includes(':') ? `[${metricsHost}]` : metricsHost}:${metricsPort}`;
}

/**
 * Installs the Temporal runtime for a worker process: our logger, and Prometheus metrics (the SDK's and the
 * product's, see activities/product-metrics.ts) on WORKER_METRICS_HOST:WORKER_METRICS_PORT when the port is set.
 * Once per process, before any connection; the runtime also shuts workers down gracefully on SIGINT/SIGTERM.
 */
export function installWorkerRuntime(config: WorkerConfig, logger: Logger = createLogger()): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const bindAddress = metricsBindAddress(config);
  Runtime.install({
    logger,
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
      ...(bindAddress ? { metrics: { prometheus: { bindAddress } } } : {}),
    },
  });
  if (bindAddress) logger.info('Prometheus metrics exposed', { url: `http://${bindAddress}/metrics` });
}

/** Builds the activities once from `config` and creates a Worker on its task queue. */
export async function createPolicySyncWorker(
  config: WorkerConfig,
  options: PolicySyncWorkerOptions = {},
): Promise<PolicySyncWorker> {
  const logger = options.logger ?? createLogger();
  // Built once per worker: one credential, one token cache per scope, one keep-alive HTTP client.
  let activities = options.activities;
  let closeDeps = async (): Promise<void> => undefined;
  if (!activities) {
    const deps = createActivityDeps(config, { logger });
    activities = createActivities(deps);
    closeDeps = () => deps.close().catch(() => undefined);
  }
  const ownConnection = options.connection === undefined;
  const connection =
    options.connection ?? (await NativeConnection.connect(temporalConnectionOptions(config.temporal)));
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      identity: options.identity ?? `policy-sync@${hostname()}/${process.pid}`,
      ...workflowSource(options.workflowBundlePath),
      activities,
      // Local first attempts (policyBatchWorkflow) get a pool of their own of the same size: up to twice this
      // many Azure calls at once per worker (the pacer and the HTTP client's connection limit still apply).
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: config.worker.maxConcurrentActivities,
      shutdownGraceTime: options.shutdownGraceTimeInMs ?? 30_000,
      ...options.workerOptions,
    });
  } catch (error) {
    if (ownConnection) await connection.close();
    await closeDeps();
    throw error;
  }
  return {
    worker,
    taskQueue: config.temporal.taskQueue,
    async run() {
      try {
        await worker.run();
      } finally {
        if (ownConnection) await connection.close();
        await closeDeps();
      }
    },
    shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}
