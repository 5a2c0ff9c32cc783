/** `policy-sync run`: starts one sync now, optionally watching it to the end. */
import { CONNECTION_FLAGS, defineCommand, parseList, TARGET_FLAG } from './args';
import {
  IN_MEMORY_HISTORY_HINT,
  isTemporalUnavailable,
  loadCliWorkerConfig,
  temporalLostWhileWaiting,
  withClient,
} from './context';
import { CommandFailedError, ExitCode } from './errors';
import { colorsFor, note, printJson } from './output';
import { ACK_DEADLINE_FLAG, findRunningSync, loadSyncConfig, startManualSync, syncInput } from './sync-runs';
import { reportOutcome, watchWithProgress } from './watch';

export const runCommand = defineCommand(
  {
    name: 'run',
    summary: 'Starts one sync of the hub now (a manual run, next to the schedule).',
    usage: 'run [--devices a,b] [--wait] [--json] [--ack-deadline 10m]',
    flags: {
      devices: { type: 'string', valueName: 'IDS', description: 'only these device ids (comma-separated)' },
      wait: { type: 'boolean', description: 'show live progress until the sync ends, then the summary' },
      json: { type: 'boolean', description: 'print JSON on stdout (the run summary with --wait)' },
      'batch-size': { type: 'string', valueName: 'N', description: 'devices per batch workflow (1-50)' },
      'max-concurrent-batches': { type: 'string', valueName: 'N', description: 'batches running at once' },
      target: TARGET_FLAG,
      ...ACK_DEADLINE_FLAG,
      ...CONNECTION_FLAGS,
    },
    notes: [
      'Exit codes: 0 started (or, with --wait, every device in sync); 1 devices failed or the sync failed; 2 bad usage or configuration; 3 permissions never became effective (preflight timed out).',
    ],
  },
  async (values, ctx) => {
    const deviceIds = parseList('devices', values.devices);
    // Every variable, as the worker checks them: `run` is usually typed where the worker runs, and a
    // configuration the worker would refuse is better named now than found by a sync waiting for it.
    const { config, batch } = loadSyncConfig(ctx, values, loadCliWorkerConfig);
    const input = syncInput(config, { deviceIds, ...batch });
    return withClient(config, async (client) => {
      // Advice only: a list that fails (visibility down, attributes just registered) must not stop the run.
      const running = await findRunningSync(client, config.hub.name).catch(() => undefined);
      if (running) {
        note(
          ctx,
          `Note: ${running.workflowId} is still syncing hub ${config.hub.name}; this starts a second sync beside it ` +
            '(to add devices to the running one instead: policy-sync rerun --devices …)',
        );
      }
      const handle = await startManualSync(client, config, input);
      const { workflowId } = handle;
      const colors = colorsFor(ctx.stdout, ctx.env);
      if (!values.wait) {
        if (values.json) {
          printJson(ctx, {
            workflowId,
            runId: handle.firstExecutionRunId,
            hub: config.hub.name,
            taskQueue: config.temporal.taskQueue,
          });
        } else {
          ctx.stdout.write(`Started ${colors.bold(workflowId)} on task queue ${config.temporal.taskQueue}\n`);
          ctx.stdout.write(`Follow it with: policy-sync status --workflow-id ${workflowId} --watch\n`);
        }
        return ExitCode.Ok;
      }
      note(
        ctx,
        `Started ${workflowId} on task queue ${config.temporal.taskQueue}; watching (Ctrl-C stops watching, not the sync)`,
      );
      let outcome;
      try {
        outcome = await watchWithProgress(client, workflowId, ctx);
      } catch (error) {
        if (isTemporalUnavailable(error)) throw temporalLostWhileWaiting(config, workflowId);
        // The server came back without the sync: an in-memory dev server restarted.
        if ((error as Error).name === 'WorkflowNotFoundError')
          throw new CommandFailedError(
            `Temporal at ${config.temporal.address} no longer knows ${workflowId} while waiting for it: ` +
              `the server lost its history (${IN_MEMORY_HISTORY_HINT})`,
          );
        throw error;
      }
      return reportOutcome(ctx, workflowId, outcome, values.json);
    });
  },
);
