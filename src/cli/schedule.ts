/**
 * `policy-sync schedule …`: the hub's schedule `iot-policy-sync-{hub}`. The action starts
 * policySyncWorkflow (the function, so the type name cannot drift) with the run's input; overlap SKIP,
 * so a slow sync is never doubled; an explicit catch-up window, so a server that was down for a day
 * runs one sync when it comes back, not six.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Config } from '../config';
import type { PolicySyncInput } from '../workflows/types';
import { policySyncWorkflow } from '../workflows';
import { SYNC_DEFAULTS } from '../workflows/options';
import { iotHubSearchAttribute } from '../workflows/search-attributes';
import {
  CONNECTION_FLAGS,
  connectionOverrides,
  defineCommand,
  parseChoiceFlag,
  parseDurationFlag,
  type Command,
  TARGET_FLAG,
} from './args';
import { loadCliConfig, withClient } from './context';
import { formatDuration } from './duration';
import { CommandFailedError, ExitCode, UsageError } from './errors';
import { colorsFor, note, printJson, type CommandContext } from './output';
import { triggerOutcome } from './trigger-outcome';
import {
  ACK_DEADLINE_FLAG,
  findRunningSyncs,
  loadSyncConfig,
  scheduleIdFor,
  syncInput,
  syncSearchAttributes,
  syncStaticDetails,
  type SyncInputOptions,
} from './sync-runs';

/** @default 4 hours */
export const DEFAULT_SCHEDULE_INTERVAL_MS = 4 * 3_600_000;
/** Missed runs older than this are dropped after an outage. @default 1 hour */
export const DEFAULT_CATCHUP_WINDOW_MS = 3_600_000;

/** The input every scheduled run gets: batch settings written out, so describe (and the UI) show what a run does. */
export function scheduledSyncInput(config: Config, options: SyncInputOptions = {}): PolicySyncInput {
  return syncInput(config, {
    ...options,
    batchSize: options.batchSize ?? SYNC_DEFAULTS.batchSize,
    maxConcurrentBatches: options.maxConcurrentBatches ?? SYNC_DEFAULTS.maxConcurrentBatches,
  });
}

export interface PolicySyncScheduleOptions {
  /** The runs' input. @default scheduledSyncInput(config) */
  input?: PolicySyncInput;
  /** @default DEFAULT_SCHEDULE_INTERVAL_MS */
  everyInMs?: number;
  /** @default DEFAULT_CATCHUP_WINDOW_MS */
  catchupWindowInMs?: number;
}

/** Creates the hub's schedule, or updates it when it exists (idempotent). */
export async function upsertPolicySyncSchedule(
  client: Client,
  config: Config,
  options: PolicySyncScheduleOptions = {},
): Promise<{ handle: ScheduleHandle; created: boolean }> {
  const scheduleId = scheduleIdFor(config.hub.name);
  const spec: ScheduleSpec = { intervals: [{ every: options.everyInMs ?? DEFAULT_SCHEDULE_INTERVAL_MS }] };
  const input = options.input ?? scheduledSyncInput(config);
  const action: ScheduleOptionsStartWorkflowAction<typeof policySyncWorkflow> = {
    type: 'startWorkflow',
    workflowType: policySyncWorkflow,
    // The schedule appends the scheduled time: iot-policy-sync-{hub}-2025-01-31T12:00:00Z.
    workflowId: scheduleId,
    taskQueue: config.temporal.taskQueue,
    args: [input],
    typedSearchAttributes: syncSearchAttributes(config.hub.name),
    staticSummary: `Policy sync of hub ${config.hub.name} (scheduled)`,
    staticDetails: syncStaticDetails(config.hub.name, input.target, `the schedule ${scheduleId}`),
  };
  const policies = {
    overlap: ScheduleOverlapPolicy.SKIP,
    catchupWindow: options.catchupWindowInMs ?? DEFAULT_CATCHUP_WINDOW_MS,
    pauseOnFailure: false,
  };
  const typedSearchAttributes = [{ key: iotHubSearchAttribute, value: config.hub.name }];
  try {
    const handle = await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies,
      typedSearchAttributes,
      memo: { hub: config.hub.name },
    });
    return { handle, created: true };
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    const handle = client.schedule.getHandle(scheduleId);
    await handle.update((previous) => ({ ...previous, spec, action, policies, typedSearchAttributes }));
    return { handle, created: false };
  }
}

const scheduleFlags = {
  json: { type: 'boolean', description: 'print JSON on stdout' },
  ...CONNECTION_FLAGS,
} as const;

async function withSchedule<T>(
  ctx: CommandContext,
  values: Parameters<typeof connectionOverrides>[0],
  fn: (handle: ScheduleHandle, scheduleId: string, config: Config, client: Client) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig(ctx, connectionOverrides(values));
  const scheduleId = scheduleIdFor(config.hub.name);
  return withClient(config, async (client) => {
    try {
      return await fn(client.schedule.getHandle(scheduleId), scheduleId, config, client);
    } catch (error) {
      if ((error as Error).name === 'ScheduleNotFoundError') {
        throw new CommandFailedError(
          `schedule ${scheduleId} not found; create it with: policy-sync schedule create`,
        );
      }
      throw error;
    }
  });
}

export const scheduleCreateCommand = defineCommand(
  {
    name: 'schedule create',
    summary:
      'Creates the schedule iot-policy-sync-{hub}, or updates it when it exists: a sync every 4 hours by ' +
      'default, overlap SKIP, catch-up window 1h, search attribute IotHub.',
    usage: 'schedule create [--every 4h] [--catchup-window 1h] [--ack-deadline 10m] [--json]',
    flags: {
      every: {
        type: 'string',
        valueName: 'DURATION',
        description: 'interval between syncs, e.g. 4h, 30m (default 4h)',
      },
      'catchup-window': {
        type: 'string',
        valueName: 'DURATION',
        description: 'after an outage, run a missed sync only if it is at most this late (default 1h)',
      },
      'batch-size': { type: 'string', valueName: 'N', description: 'devices per batch workflow (1-50)' },
      'max-concurrent-batches': { type: 'string', valueName: 'N', description: 'batches running at once' },
      target: TARGET_FLAG,
      ...ACK_DEADLINE_FLAG,
      ...scheduleFlags,
    },
    notes: ['Exit codes: 0 created or updated; 1 failed; 2 bad usage or configuration.'],
  },
  async (values, ctx) => {
    const everyInMs = parseDurationFlag('every', values.every, DEFAULT_SCHEDULE_INTERVAL_MS);
    if (everyInMs < 60_000) throw new UsageError('--every must be at least 1m');
    const catchupWindowInMs = parseDurationFlag(
      'catchup-window',
      values['catchup-window'],
      DEFAULT_CATCHUP_WINDOW_MS,
    );
    if (catchupWindowInMs < 10_000) throw new UsageError('--catchup-window must be at least 10s');
    const { config, batch } = loadSyncConfig(ctx, values);
    // Built (and checked) before connecting: a refused input is a usage error, and no schedule is written.
    const input = scheduledSyncInput(config, batch);
    return withClient(config, async (client) => {
      const { handle, created } = await upsertPolicySyncSchedule(client, config, {
        input,
        everyInMs,
        catchupWindowInMs,
      });
      const description = await handle.describe();
      if (values.json) {
        printJson(ctx, { result: created ? 'created' : 'updated', ...scheduleJson(description) });
      } else {
        const colors = colorsFor(ctx.stdout, ctx.env);
        ctx.stdout.write(
          `${created ? 'Created' : 'Updated'} schedule ${colors.bold(handle.scheduleId)}: every ${formatDuration(everyInMs)}, ` +
            `overlap SKIP, catch-up window ${formatDuration(catchupWindowInMs)}, task queue ${config.temporal.taskQueue}\n`,
        );
        const next = description.info.nextActionTimes[0];
        if (next) ctx.stdout.write(`Next sync at ${next.toISOString()}\n`);
      }
      return ExitCode.Ok;
    });
  },
);

function scheduleJson(d: ScheduleDescription) {
  const action = d.action;
  return {
    scheduleId: d.scheduleId,
    intervals: (d.spec.intervals ?? []).map((i) => ({
      everyMs: i.every,
      every: formatDuration(i.every),
      offsetMs: i.offset,
    })),
    overlap: d.policies.overlap,
    catchupWindowMs: d.policies.catchupWindow,
    paused: d.state.paused,
    note: d.state.note ?? null,
    action: {
      workflowType: action.workflowType,
      workflowId: action.workflowId,
      taskQueue: action.taskQueue,
      args: action.args ?? [],
    },
    searchAttributes: Object.fromEntries(d.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])),
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
    runningWorkflowIds: d.info.runningActions.map((a) => a.workflow.workflowId),
    actionsTaken: d.info.numActionsTaken,
    skippedOverlap: d.info.numActionsSkippedOverlap,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
  };
}

export const scheduleDescribeCommand = defineCommand(
  {
    name: 'schedule describe',
    summary: "Shows the hub's schedule: interval, policies, state, next and recent syncs.",
    usage: 'schedule describe [--json]',
    flags: scheduleFlags,
    notes: ['Exit codes: 0 shown; 1 no such schedule; 2 bad usage or configuration.'],
  },
  async (values, ctx) =>
    withSchedule(ctx, values, async (handle) => {
      const d = scheduleJson(await handle.describe());
      if (values.json) {
        printJson(ctx, d);
        return ExitCode.Ok;
      }
      const colors = colorsFor(ctx.stdout, ctx.env);
      const lines = [
        `Schedule ${colors.bold(d.scheduleId)}${d.paused ? colors.yellow(' (paused)') : ''}`,
        `  every            ${d.intervals.map((i) => i.every).join(', ') || '-'}`,
        `  overlap          ${d.overlap}`,
        `  catch-up window  ${formatDuration(d.catchupWindowMs)}`,
        `  workflow         ${d.action.workflowType} on task queue ${d.action.taskQueue}`,
        `  input            ${JSON.stringify(d.action.args[0] ?? {})}`,
        `  search attrs     ${Object.entries(d.searchAttributes)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(', ')}`,
        `  syncs started    ${d.actionsTaken} (skipped for overlap ${d.skippedOverlap}, missed catch-up ${d.missedCatchupWindow})`,
        `  next             ${d.nextActionTimes.slice(0, 3).join(', ') || '-'}`,
        `  running          ${d.runningWorkflowIds.join(', ') || '-'}`,
        `  recent           ${
          d.recentActions
            .slice(-3)
            .map((a) => a.workflowId)
            .join(', ') || '-'
        }`,
      ];
      if (d.note) lines.push(`  note             ${d.note}`);
      ctx.stdout.write(`${lines.join('\n')}\n`);
      return ExitCode.Ok;
    }),
);

function pauseLikeCommand(name: 'pause' | 'unpause'): Command {
  return defineCommand(
    {
      name: `schedule ${name}`,
      summary:
        name === 'pause'
          ? 'Pauses the schedule: no scheduled syncs until unpause.'
          : 'Unpauses the schedule.',
      usage: `schedule ${name} [--note TEXT] [--json]`,
      flags: {
        note: { type: 'string', valueName: 'TEXT', description: 'why (shown by describe and in the UI)' },
        ...scheduleFlags,
      },
      notes: ['Exit codes: 0 done; 1 no such schedule; 2 bad usage or configuration.'],
    },
    async (values, ctx) =>
      withSchedule(ctx, values, async (handle, scheduleId) => {
        const note = values.note ?? `${name}d with policy-sync`;
        if (name === 'pause') await handle.pause(note);
        else await handle.unpause(note);
        if (values.json)
          printJson(ctx, { result: name === 'pause' ? 'paused' : 'unpaused', scheduleId, note });
        else ctx.stdout.write(`${name === 'pause' ? 'Paused' : 'Unpaused'} schedule ${scheduleId}\n`);
        return ExitCode.Ok;
      }),
  );
}

export const schedulePauseCommand = pauseLikeCommand('pause');
export const scheduleUnpauseCommand = pauseLikeCommand('unpause');

const TRIGGER_OVERLAPS = ['skip', 'buffer-one'] as const;

/** How long `schedule trigger` looks for what its trigger came to. */
const TRIGGER_LOOK_MS = 10_000;

export const scheduleTriggerCommand = defineCommand(
  {
    name: 'schedule trigger',
    summary:
      'Starts a sync from the schedule now. Overlap SKIP by default (stated, as the SDK would allow overlaps): ' +
      'if a sync of the hub is running, the trigger is dropped; with --overlap buffer-one it starts when that one ends.',
    usage: 'schedule trigger [--overlap skip|buffer-one] [--json]',
    flags: {
      overlap: {
        type: 'string',
        valueName: 'skip|buffer-one',
        description: 'what to do when a sync is running (default skip)',
      },
      ...scheduleFlags,
    },
    notes: [
      'Prints what the trigger came to: the workflow id it started, or that it was skipped because the ' +
        "schedule's previous run is still running (or buffered behind it).",
      'Exit codes: 0 triggered (started, skipped or buffered); 1 no such schedule; 2 bad usage or configuration.',
    ],
  },
  async (values, ctx) => {
    const choice = parseChoiceFlag('overlap', values.overlap, TRIGGER_OVERLAPS) ?? 'skip';
    const overlap = choice === 'skip' ? ScheduleOverlapPolicy.SKIP : ScheduleOverlapPolicy.BUFFER_ONE;
    return withSchedule(ctx, values, async (handle, scheduleId, config, client) => {
      const before = (await handle.describe()).info;
      await handle.trigger(overlap);
      let outcome = triggerOutcome(before, before);
      for (const deadline = Date.now() + TRIGGER_LOOK_MS; Date.now() < deadline;) {
        await sleep(250);
        outcome = triggerOutcome(before, (await handle.describe()).info);
        if (outcome.result !== 'pending') break;
      }
      // SKIP only sees the schedule's own runs: a manual sync of the hub does not stop a scheduled one.
      const manual =
        outcome.result === 'started'
          ? (await findRunningSyncs(client, config.hub.name).catch(() => []))
              .map((ref) => ref.workflowId)
              .filter((id) => id !== outcome.workflowId && !outcome.running.includes(id))
          : [];
      if (values.json) {
        printJson(ctx, {
          result: outcome.result === 'started' ? 'triggered' : outcome.result,
          scheduleId,
          overlap,
          ...(outcome.result === 'started'
            ? { workflowId: outcome.workflowId }
            : { running: outcome.running }),
          ...(manual.length > 0 ? { alsoRunning: manual } : {}),
        });
      } else {
        const running = outcome.running.join(', ') || 'none seen';
        ctx.stdout.write(
          outcome.result === 'started'
            ? `Triggered schedule ${scheduleId} with overlap ${overlap}: started ${outcome.workflowId}\n`
            : outcome.result === 'skipped'
              ? `Triggered schedule ${scheduleId} with overlap SKIP: skipped, the schedule's previous run is still running (${running})\n`
              : overlap === ScheduleOverlapPolicy.BUFFER_ONE
                ? `Triggered schedule ${scheduleId} with overlap BUFFER_ONE: buffered, it starts when the schedule's running sync ends (${running})\n`
                : `Triggered schedule ${scheduleId}: no run started within ${TRIGGER_LOOK_MS / 1000} s; see policy-sync schedule describe\n`,
        );
        if (manual.length > 0)
          note(
            ctx,
            `Note: ${manual.join(', ')} (not started by the schedule) is also syncing hub ${config.hub.name}; ` +
              "overlap SKIP covers only the schedule's own runs, so both write (policy-sync pause holds every running sync)",
          );
      }
      return ExitCode.Ok;
    });
  },
);

export const scheduleDeleteCommand = defineCommand(
  {
    name: 'schedule delete',
    summary: 'Deletes the schedule. Syncs it started go on.',
    usage: 'schedule delete [--json]',
    flags: scheduleFlags,
    notes: ['Exit codes: 0 deleted; 1 no such schedule; 2 bad usage or configuration.'],
  },
  async (values, ctx) =>
    withSchedule(ctx, values, async (handle, scheduleId) => {
      await handle.delete();
      if (values.json) printJson(ctx, { result: 'deleted', scheduleId });
      else ctx.stdout.write(`Deleted schedule ${scheduleId}\n`);
      return ExitCode.Ok;
    }),
);

export const scheduleCommands: Record<string, Command> = {
  create: scheduleCreateCommand,
  describe: scheduleDescribeCommand,
  pause: schedulePauseCommand,
  unpause: scheduleUnpauseCommand,
  trigger: scheduleTriggerCommand,
  delete: scheduleDeleteCommand,
};
