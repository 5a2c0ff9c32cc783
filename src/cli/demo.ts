/**
 * `policy-sync demo` (`npm start`): everything embedded on one machine. A Temporal dev server with its
 * UI, the Azure emulator with 300 devices in the seed profile (in-process), a worker (in-process), the
 * hub's schedule, and one sync triggered from the schedule, watched live to its summary.
 */
import { createServer } from 'node:net';
import tls from 'node:tls';
import type { Client } from '@temporalio/client';
import { loadConfig, type WorkerConfig } from '../config';
import { startDevServer, freePort, type DevServer } from '../devserver/dev-server';
import { TemporalCliNotFoundError } from '../devserver/temporal-cli';
import { startEmulator, emulatorProfileNames, type Emulator, type EmulatorProfileName } from '../emulator';
import { createLogger } from '../logger';
import {
  createPolicySyncWorker,
  installWorkerRuntime,
  metricsBindAddress,
  type PolicySyncWorker,
} from '../worker';
import { connectClient } from '../client';
import { defineCommand, parseChoiceFlag, parseIntegerFlag } from './args';
import { writeDemoEnv, type DemoEnvFile } from './demo-env';
import { formatDuration } from './duration';
import { CommandFailedError } from './errors';
import { colorsFor, note } from './output';
import { upsertPolicySyncSchedule } from './schedule';
import { WatchInterruptedError } from './sync-runs';
import { reportOutcome, watchWithProgress } from './watch';
import { ScheduleOverlapPolicy } from '@temporalio/client';

/** Listens on `port` if it is free on 127.0.0.1, else a free port. */
async function preferredPort(port: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? port : freePort();
}

/** How long the demo's twin syncs give devices to acknowledge the policy. */
const DEMO_ACK_DEADLINE = '20s';

export const demoCommand = defineCommand(
  {
    name: 'demo',
    summary:
      'Runs everything on this machine: a Temporal dev server with its UI, the Azure emulator (300 devices, ' +
      'seed profile), a worker, the schedule (every 4h), and one sync triggered from the schedule with live ' +
      'progress; then the summary and the UI address. Stays up until Ctrl-C, or leaves with --exit.',
    usage: 'demo [--exit] [--devices 300] [--profile seed]',
    flags: {
      exit: {
        type: 'boolean',
        description: 'leave when the sync is done (exit 0 when every device is in sync)',
      },
      devices: { type: 'string', valueName: 'N', description: 'devices in the emulated hub (default 300)' },
      profile: {
        type: 'string',
        valueName: 'NAME',
        description: 'emulator fault profile: calm, seed, throttled, hostile (default seed)',
      },
      seed: {
        type: 'string',
        valueName: 'N',
        description: 'seed of the emulator’s random faults (default 1)',
      },
    },
    notes: ['The dev server listens on 127.0.0.1:7233 and its UI on :8233 when free, else on free ports.'],
  },
  async (values, ctx) => {
    const devices = parseIntegerFlag('devices', values.devices, 1, 100_000) ?? 300;
    const profile: EmulatorProfileName =
      parseChoiceFlag('profile', values.profile, emulatorProfileNames) ?? 'seed';
    const seed = parseIntegerFlag('seed', values.seed, 0, 2 ** 31) ?? 1;
    const colors = colorsFor(ctx.stderr, ctx.env);
    const step = (text: string) => note(ctx, `${colors.cyan('▸')} ${text}`);
    const started = Date.now();

    let server: DevServer | undefined;
    let emulator: Emulator | undefined;
    let worker: PolicySyncWorker | undefined;
    let workerRun: Promise<void> | undefined;
    let client: Client | undefined;
    let demoEnv: DemoEnvFile | undefined;
    const teardown = async () => {
      // First: from now on the settings point at nothing.
      demoEnv?.remove();
      worker?.shutdown();
      await workerRun?.catch(() => undefined);
      await client?.connection.close().catch(() => undefined);
      await emulator?.close().catch(() => undefined);
      await server?.stop().catch(() => undefined);
    };
    const stopRequested = new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });

    try {
      step('Starting the Temporal dev server with its UI…');
      server = await startDevServer({
        port: await preferredPort(7233),
        uiPort: await preferredPort(8233),
        ui: true,
      });
      step(`Temporal at ${server.address}, UI at ${colors.bold(server.uiUrl ?? '-')}`);

      step(`Starting the Azure emulator: ${devices} devices, profile ${profile}…`);
      emulator = await startEmulator({ devices, profile, seed });
      // This process talks to the emulator over HTTPS: trust its CA next to the usual ones (Node ≥ 22.19).
      tls.setDefaultCACertificates([...tls.getCACertificates('default'), emulator.caPem]);
      step(`Emulator at ${emulator.url} (hub ${emulator.hub.name})`);

      const config: WorkerConfig = loadConfig({
        ...emulator.env,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: server.namespace,
        // On loopback only: the demo's metrics are for this machine.
        WORKER_METRICS_HOST: '127.0.0.1',
        WORKER_METRICS_PORT: String(await preferredPort(9464)),
        // The twin target's devices answer within seconds here: the demo does not wait 10 minutes for stragglers.
        POLICY_ACK_DEADLINE: DEMO_ACK_DEADLINE,
      });
      const logger = createLogger({ level: 'ERROR', write: (line) => ctx.stderr.write(`${line}\n`) });
      installWorkerRuntime(config, logger);
      const metricsUrl = `http://${metricsBindAddress(config)}/metrics`;
      step(`Prometheus metrics (the SDK's temporal_* and the product's iot_policy_sync_*) at ${metricsUrl}`);
      step('Starting a worker (bundling the workflows)…');
      worker = await createPolicySyncWorker(config, { logger, shutdownGraceTimeInMs: 5_000 });
      workerRun = worker.run();
      workerRun.catch((error: unknown) => note(ctx, `worker stopped: ${String(error)}`));

      client = await connectClient(config);
      const { handle } = await upsertPolicySyncSchedule(client, config);
      step(`Schedule ${handle.scheduleId}: every 4h, overlap SKIP, catch-up window 1h`);

      // Every command of the CLI works against the demo from another shell with these settings.
      try {
        demoEnv = writeDemoEnv(process.cwd(), {
          ...emulator.env,
          TEMPORAL_ADDRESS: config.temporal.address,
          TEMPORAL_NAMESPACE: config.temporal.namespace,
          TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
          POLICY_TARGET: config.policy.target,
          POLICY_ACK_DEADLINE: DEMO_ACK_DEADLINE,
          INVENTORY_SOURCE: config.inventory.source,
        });
        step(
          `CLI settings for this demo: in another shell, ${colors.bold(`source ${demoEnv.displayPath}`)}, ` +
            'then e.g. npx policy-sync status',
        );
      } catch (error) {
        note(ctx, `Could not write the CLI settings file (${String(error)}); the demo goes on without it.`);
      }

      // One sync now, taken by the schedule itself (trigger, overlap SKIP), so it shows as the schedule's run.
      const before = (await handle.describe()).info.numActionsTaken;
      await handle.trigger(ScheduleOverlapPolicy.SKIP);
      const workflowId = await startedBySchedule(client, handle.scheduleId, before);
      step(`Triggered the schedule (overlap SKIP): sync ${colors.bold(workflowId)}`);

      const outcome = await Promise.race([
        watchWithProgress(client, workflowId, ctx, { lineEveryInMs: 3_000 }),
        stopRequested.then((signal) => {
          throw new WatchInterruptedError(`${signal} received`);
        }),
      ]);
      const code = reportOutcome(ctx, workflowId, outcome, false);

      const state = emulator.state();
      const holding = Object.values(state.devices).filter(
        (d) => d.policy !== null || d.twinPolicy !== null,
      ).length;
      const out = colorsFor(ctx.stdout, ctx.env);
      ctx.stdout.write(
        `Emulator: ${holding} of ${Object.keys(state.devices).length} devices hold their policy; ` +
          `responses by status ${JSON.stringify(state.requests)}\n`,
      );
      const uiUrl = `${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(workflowId)}`;
      ctx.stdout.write(`Temporal UI: ${out.bold(uiUrl)}\n`);
      ctx.stdout.write(`Prometheus metrics: ${metricsUrl}\n`);
      ctx.stdout.write(
        `Demo ran in ${formatDuration(Date.now() - started)}. Schedules: ${server.uiUrl}/namespaces/${server.namespace}/schedules\n`,
      );

      if (!values.exit) {
        ctx.stdout.write(
          `Everything stays up; try in another shell:\n` +
            (demoEnv
              ? `  source ${demoEnv.displayPath} && npx policy-sync status\n` +
                `  source ${demoEnv.displayPath} && npx policy-sync schedule describe\n`
              : '') +
            `  TEMPORAL_ADDRESS=${server.address} temporal workflow query --workflow-id ${workflowId} --type metrics\n` +
            `  curl -s ${metricsUrl} | grep ^iot_policy_sync_\n` +
            `Ctrl-C to stop.\n`,
        );
        await stopRequested;
        note(ctx, 'Stopping…');
      }
      return code;
    } catch (error) {
      // Its message is the whole story (how to install the CLI); no stack-trace-like prefix.
      if (error instanceof TemporalCliNotFoundError) throw new CommandFailedError(error.message);
      if (error instanceof WatchInterruptedError) {
        note(ctx, 'Stopping…');
        return 130;
      }
      throw error;
    } finally {
      await teardown();
    }
  },
);

/** The workflow id of the action the schedule takes after `before` actions. */
async function startedBySchedule(client: Client, scheduleId: string, before: number): Promise<string> {
  const handle = client.schedule.getHandle(scheduleId);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { info } = await handle.describe();
    const latest = info.recentActions.at(-1);
    if (info.numActionsTaken > before && latest) return latest.action.workflow.workflowId;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new CommandFailedError(`schedule ${scheduleId} did not start a sync within 30 s of the trigger`);
}
