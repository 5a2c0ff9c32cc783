/** `policy-sync status`: live metrics of the hub's running sync, else of its last one. */
import type { Client } from '@temporalio/client';
import { CONNECTION_FLAGS, connectionOverrides, defineCommand } from './args';
import { IN_MEMORY_HISTORY_HINT, loadCliConfig, withClient } from './context';
import { CommandFailedError, ExitCode } from './errors';
import { colorsFor, printJson, renderMetrics, renderSummary, type CommandContext } from './output';
import {
  findLatestSync,
  metricsFromSummary,
  queryMetrics,
  syncOutcome,
  type SyncOutcome,
  type SyncRef,
} from './sync-runs';
import { outcomeExitCode, reportOutcome, watchWithProgress } from './watch';
import type { SyncMetrics } from '../workflows/types';

export const statusCommand = defineCommand(
  {
    name: 'status',
    summary:
      "Shows the live metrics (the `metrics` query) of the hub's running sync, else of its last one; " +
      'for a closed sync with no worker to answer queries, its result.',
    usage: 'status [--workflow-id ID] [--watch] [--json]',
    flags: {
      'workflow-id': {
        type: 'string',
        valueName: 'ID',
        description: 'this sync instead of the hub’s latest',
      },
      watch: { type: 'boolean', description: 'follow the sync live until it ends, then print its summary' },
      json: { type: 'boolean', description: 'print JSON on stdout' },
      ...CONNECTION_FLAGS,
    },
    notes: [
      'Exit codes: 0 a running sync shown, or a finished one with every device in sync; 1 no sync found, or the ' +
        'sync shown failed or has failed devices; 2 bad usage; 3 it failed because the permissions never became effective.',
    ],
  },
  async (values, ctx) => {
    const config = loadCliConfig(ctx, connectionOverrides(values));
    return withClient(config, async (client) => {
      const ref = await resolveSync(client, config.hub.name, values['workflow-id']);
      if (values.watch) {
        // A sync that has already ended is reported as if it had just ended: same output, same exit code.
        const outcome =
          ref.status === 'RUNNING'
            ? await watchWithProgress(client, ref.workflowId, ctx)
            : await syncOutcome(client, ref.workflowId);
        return reportOutcome(ctx, ref.workflowId, outcome, values.json);
      }
      return showStatus(client, ref, ctx, values.json);
    });
  },
);

export async function resolveSync(
  client: Client,
  hub: string,
  workflowId: string | undefined,
): Promise<SyncRef> {
  if (workflowId) {
    try {
      const info = await client.workflow.getHandle(workflowId).describe();
      return {
        workflowId,
        runId: info.runId,
        status: info.status.name,
        startTime: info.startTime,
        closeTime: info.closeTime,
      };
    } catch (error) {
      if ((error as Error).name === 'WorkflowNotFoundError') {
        throw new CommandFailedError(`no workflow ${workflowId} in this namespace`);
      }
      throw error;
    }
  }
  const ref = await findLatestSync(client, hub);
  if (!ref)
    throw new CommandFailedError(
      `no sync of hub ${hub} found; start one with: policy-sync run ` +
        `(if syncs ran before: ${IN_MEMORY_HISTORY_HINT}, and forgets them on restart)`,
    );
  return ref;
}

async function showStatus(client: Client, ref: SyncRef, ctx: CommandContext, json: boolean): Promise<number> {
  const running = ref.status === 'RUNNING';
  // A closed workflow still answers queries when a worker is up; else its result tells what it came to.
  let metrics: SyncMetrics | undefined = await queryMetrics(client, ref.workflowId, running ? 10_000 : 3_000);
  let outcome: SyncOutcome | undefined;
  if (!running) outcome = await syncOutcome(client, ref.workflowId);
  let source: 'query' | 'result' = 'query';
  if (!metrics && outcome?.status === 'COMPLETED') {
    metrics = metricsFromSummary(outcome.summary);
    source = 'result';
  }
  if (!metrics && running) {
    throw new CommandFailedError(
      `${ref.workflowId} is running but no worker answered the metrics query: is a worker polling its task queue?`,
    );
  }
  const status = ref.status;
  if (json) {
    printJson(ctx, {
      workflowId: ref.workflowId,
      status,
      startTime: ref.startTime.toISOString(),
      closeTime: ref.closeTime?.toISOString() ?? null,
      metricsSource: metrics ? source : null,
      metrics: metrics ?? null,
      summary: outcome?.status === 'COMPLETED' ? outcome.summary : null,
      failure:
        outcome && outcome.status !== 'COMPLETED'
          ? { type: outcome.type ?? null, message: outcome.message }
          : null,
    });
    return outcome ? outcomeExitCode(outcome) : ExitCode.Ok;
  }
  const colors = colorsFor(ctx.stdout, ctx.env);
  // A completed sync: its summary says it all (alerts included), once. Otherwise the metrics, then how it closed.
  if (outcome?.status === 'COMPLETED') {
    ctx.stdout.write(`${colors.bold(ref.workflowId)} — ${status.toLowerCase()}\n`);
    ctx.stdout.write(renderSummary(outcome.summary, colors));
  } else {
    if (metrics) ctx.stdout.write(renderMetrics(ref.workflowId, status, metrics, colors));
    if (outcome)
      ctx.stdout.write(
        `${ref.workflowId} ${outcome.status.toLowerCase()}${outcome.type ? ` (${outcome.type})` : ''}: ${outcome.message}\n`,
      );
  }
  return outcome ? outcomeExitCode(outcome) : ExitCode.Ok;
}
