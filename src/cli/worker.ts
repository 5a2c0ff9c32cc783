/** `policy-sync worker`: polls the task queue until SIGINT/SIGTERM, then shuts down gracefully. */
import { NativeConnection } from '@temporalio/worker';
import { temporalConnectionOptions } from '../client';
import { createLogger } from '../logger';
import { createPolicySyncWorker, installWorkerRuntime } from '../worker';
import { CONNECTION_FLAGS, connectionOverrides, defineCommand } from './args';
import { loadCliWorkerConfig, temporalUnreachable } from './context';
import { ExitCode } from './errors';

export const workerCommand = defineCommand(
  {
    name: 'worker',
    summary:
      'Runs a worker: the policy-sync workflows and the Azure activities on the task queue, until SIGINT or ' +
      'SIGTERM; then running activities get 30 s to finish. Several workers of one hub may share a task queue; ' +
      'each hub needs a task queue of its own.',
    usage: 'worker [--metrics-port N] [--max-concurrent-activities N]',
    flags: {
      'metrics-port': {
        type: 'string',
        valueName: 'N',
        description:
          'serve Prometheus metrics on port N at /metrics, on WORKER_METRICS_HOST (default 0.0.0.0) (overrides WORKER_METRICS_PORT)',
      },
      'max-concurrent-activities': {
        type: 'string',
        valueName: 'N',
        description: 'activity slots (overrides WORKER_MAX_CONCURRENT_ACTIVITIES)',
      },
      ...CONNECTION_FLAGS,
    },
    notes: ['Logs go to stderr, one JSON object a line unless stderr is a terminal.'],
  },
  async (values, ctx) => {
    const config = loadCliWorkerConfig(ctx, {
      ...connectionOverrides(values),
      WORKER_METRICS_PORT: values['metrics-port'],
      WORKER_MAX_CONCURRENT_ACTIVITIES: values['max-concurrent-activities'],
    });
    const logger = createLogger({ write: (line) => ctx.stderr.write(`${line}\n`) });
    installWorkerRuntime(config, logger);
    // Built first: a missing TLS file is its own error, not "cannot reach Temporal".
    const connectionOptions = temporalConnectionOptions(config.temporal);
    let connection: NativeConnection;
    try {
      connection = await NativeConnection.connect(connectionOptions);
    } catch (error) {
      throw temporalUnreachable(config, error);
    }
    try {
      const worker = await createPolicySyncWorker(config, { logger, connection });
      logger.info('Worker started', {
        address: config.temporal.address,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        hub: config.hub.name,
        target: config.policy.target,
      });
      await worker.run();
      logger.info('Worker stopped');
    } finally {
      await connection.close();
    }
    return ExitCode.Ok;
  },
);
