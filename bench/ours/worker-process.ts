/**
 * Our worker in a process of its own, so that its peak memory is the worker's and nothing else's. Started
 * by bench/run.ts with the emulator's environment (NODE_EXTRA_CA_CERTS included), TEMPORAL_ADDRESS and
 * TEMPORAL_TASK_QUEUE; it says `ready` once it polls and stops on `shutdown`, answering with its peak RSS.
 *
 * BENCH_WORKER_OPTIONS (JSON) passes extra Worker options, for tuning runs. BENCH_NOOP_WRITES=1 replaces
 * applySecurityPolicy with one that writes nothing: a probe of what the orchestration alone costs.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createActivities, createActivityDeps } from '../../src/activities';
import { createPolicySyncWorker, installWorkerRuntime } from '../../src/worker';
import { cpuMsSince, peakRssBytes } from '../process-stats';

async function main(): Promise<void> {
  const send = (message: unknown) =>
    new Promise<void>((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));
  const config = loadConfig(process.env);
  const logger = createLogger({ level: 'WARN' });
  installWorkerRuntime(config, logger);
  const workerOptions = process.env.BENCH_WORKER_OPTIONS
    ? (JSON.parse(process.env.BENCH_WORKER_OPTIONS) as Partial<WorkerOptions>)
    : {};
  let activities;
  if (process.env.BENCH_NOOP_WRITES === '1') {
    const real = createActivities(createActivityDeps(config, { logger }));
    activities = {
      ...real,
      applySecurityPolicy: async () => ({
        status: 'succeeded' as const,
        attempts: 1,
        authErrors: 0,
        throttled: 0,
      }),
    };
  }
  const worker = await createPolicySyncWorker(config, {
    logger,
    ...(activities ? { activities } : {}),
    workerOptions,
    ...(process.env.BENCH_WORKFLOW_BUNDLE ? { workflowBundlePath: process.env.BENCH_WORKFLOW_BUNDLE } : {}),
  });
  const running = worker.run();
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'shutdown') worker.shutdown();
  });
  // run() starts polling at once; a moment later the worker takes tasks.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cpuAtReady = process.cpuUsage();
  await send({ type: 'ready' });
  await running;
  await send({ type: 'stopped', peakRssBytes: peakRssBytes(), cpuMs: cpuMsSince(cpuAtReady) });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
