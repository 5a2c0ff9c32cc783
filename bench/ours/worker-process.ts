/**
 * Our worker in a process of its own, so that its peak memory is the worker's and nothing else's. Started
 * by bench/run.ts with the emulator's environment (NODE_EXTRA_CA_CERTS included), TEMPORAL_ADDRESS and
 * TEMPORAL_TASK_QUEUE; it says `ready` once it polls and stops on `shutdown`, answering with its peak RSS.
 *
 * BENCH_WORKER_OPTIONS (JSON) passes extra Worker options, for tuning runs.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createPolicySyncWorker, installWorkerRuntime } from '../../src/worker';
import { peakRssBytes } from '../baseline/seed-script';

async function main(): Promise<void> {
  const send = (message: unknown) =>
    new Promise<void>((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));
  const config = loadConfig(process.env);
  const logger = createLogger({ level: 'WARN' });
  installWorkerRuntime(config, logger);
  const workerOptions = process.env.BENCH_WORKER_OPTIONS
    ? (JSON.parse(process.env.BENCH_WORKER_OPTIONS) as Partial<WorkerOptions>)
    : {};
  const worker = await createPolicySyncWorker(config, {
    logger,
    workerOptions,
    ...(process.env.BENCH_WORKFLOW_BUNDLE ? { workflowBundlePath: process.env.BENCH_WORKFLOW_BUNDLE } : {}),
  });
  const running = worker.run();
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'shutdown') worker.shutdown();
  });
  // run() starts polling at once; a moment later the worker takes tasks.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await send({ type: 'ready' });
  await running;
  await send({ type: 'stopped', peakRssBytes: peakRssBytes() });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
