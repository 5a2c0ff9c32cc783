/**
 * The Temporal side of the commands: naming, starting, finding and watching a hub's sync.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ActivityFailure,
  ChildWorkflowFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import {
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  type SearchAttributePair,
} from '@temporalio/common';
import { innermostCause } from '../domain/cause-chain';
import type { Config, ConfigOverrides } from '../config';
import { validateSyncInput } from '../workflows/options';
import { connectionOverrides, parseIntegerFlag } from './args';
import { UsageError } from './errors';
import { collectUsageProblem, loadCliConfig } from './context';
import type { CommandContext } from './output';
import type { PolicySyncInput, RunSummary, SyncMetrics } from '../workflows/types';
import { failedDeviceCount } from '../workflows/failure-ledger';
import { policySyncWorkflow } from '../workflows';
import { metricsQuery } from '../workflows/messages';
import { iotHubSearchAttribute, policySyncPhaseSearchAttribute } from '../workflows/search-attributes';

export const SYNC_WORKFLOW_TYPE = 'policySyncWorkflow';

/** `iot-policy-sync-{hub}-manual-{ISO time without ':'}`, e.g. `…-manual-2025-01-31T120000.000Z`. */
export function manualWorkflowId(hub: string, now: Date = new Date()): string {
  return `iot-policy-sync-${hub}-manual-${now.toISOString().replace(/:/g, '')}`;
}

/** The hub's schedule: `iot-policy-sync-{hub}`. */
export function scheduleIdFor(hub: string): string {
  return `iot-policy-sync-${hub}`;
}

export interface SyncInputOptions {
  deviceIds?: string[];
  batchSize?: number;
  maxConcurrentBatches?: number;
}

/** The workflow input for this hub; batch settings only when given, so the workflow's defaults apply. */
export function syncInput(config: Config, options: SyncInputOptions = {}): PolicySyncInput {
  const input: PolicySyncInput = { hub: config.hub.name, target: config.policy.target };
  if (options.deviceIds) input.deviceIds = options.deviceIds;
  if (options.batchSize !== undefined) input.batchSize = options.batchSize;
  if (options.maxConcurrentBatches !== undefined) input.maxConcurrentBatches = options.maxConcurrentBatches;
  // Only the twin target waits for the devices' answers.
  if (config.policy.target === 'twin' && config.policy.ackDeadlineInMs !== undefined)
    input.ackDeadlineInMs = config.policy.ackDeadlineInMs;
  // Flags valid one by one can still make an input the workflow refuses (e.g. too many devices in flight):
  // refuse it here, before anything starts or any schedule is written.
  const problems = validateSyncInput(input);
  if (problems.length > 0) throw new UsageError(`Invalid sync settings: ${problems.join('; ')}`);
  return input;
}

/**
 * The configuration and batch flags of `run` and `schedule create`: the problems of both (environment, flags
 * overriding it, batch flags) listed at once. `schedule create` only writes to Temporal, so by default only
 * what Temporal needs is checked; `run` passes loadCliWorkerConfig.
 */
export function loadSyncConfig<C extends Config = Config>(
  ctx: CommandContext,
  values: Parameters<typeof connectionOverrides>[0] &
    Parameters<typeof parseBatchFlags>[0] & {
      target?: string | undefined;
      'ack-deadline'?: string | undefined;
    },
  load: CliConfigLoader<C> = loadCliConfig as CliConfigLoader<C>,
): { config: C; batch: Pick<SyncInputOptions, 'batchSize' | 'maxConcurrentBatches'> } {
  const problems: string[] = [];
  const batch = collectUsageProblem(() => parseBatchFlags(values), problems) ?? {};
  const config = load(
    ctx,
    {
      ...connectionOverrides(values),
      POLICY_TARGET: values.target,
      POLICY_ACK_DEADLINE: values['ack-deadline'],
    },
    problems,
  );
  return { config, batch };
}

export type CliConfigLoader<C> = (
  ctx: CommandContext,
  overrides: ConfigOverrides,
  flagProblems: readonly string[],
) => C;

/** `--ack-deadline`, shared by `run` and `schedule create` (overrides POLICY_ACK_DEADLINE). */
export const ACK_DEADLINE_FLAG = {
  'ack-deadline': {
    type: 'string',
    valueName: 'DURATION',
    description:
      'twin target: how long devices have to acknowledge the policy after the last batch, e.g. 60s, 10m, or 0 ' +
      '(overrides POLICY_ACK_DEADLINE; default 10m). Devices still silent then are stale; offline ones pending',
  },
} as const;

/** `--batch-size` and `--max-concurrent-batches`, shared by `run` and `schedule create`. */
export function parseBatchFlags(values: {
  'batch-size'?: string;
  'max-concurrent-batches'?: string;
}): Pick<SyncInputOptions, 'batchSize' | 'maxConcurrentBatches'> {
  const problems: string[] = [];
  const batchSize = collectUsageProblem(
    () => parseIntegerFlag('batch-size', values['batch-size'], 1, 50),
    problems,
  );
  const maxConcurrentBatches = collectUsageProblem(
    () => parseIntegerFlag('max-concurrent-batches', values['max-concurrent-batches'], 1, 100),
    problems,
  );
  if (problems.length > 0) throw new UsageError(problems.join('; '), undefined, problems);
  return { batchSize, maxConcurrentBatches };
}

/** IotHub (and PolicySyncPhase before the workflow's first update) set from the start. */
export function syncSearchAttributes(hub: string): SearchAttributePair[] {
  return [
    { key: iotHubSearchAttribute, value: hub },
    { key: policySyncPhaseSearchAttribute, value: 'preflight' },
  ];
}

/**
 * The static details the Temporal UI shows beside the static summary: what the run does and where its outcome
 * is told (the current details and the memo, kept by the workflow).
 */
export function syncStaticDetails(hub: string, target: string, startedBy: string): string {
  return (
    `Writes the security policy of each inventory device to IoT Hub **${hub}** (target \`${target}\`) in batches ` +
    `(child workflows); started by ${startedBy}. How it is going: **Current details**; the outcome in words: ` +
    `the memo; the result: the run summary.`
  );
}

/** Starts a manual sync now. */
export async function startManualSync(
  client: Client,
  config: Config,
  input: PolicySyncInput,
  /** The clock the id is made from. @default the system's */
  now: () => Date = () => new Date(),
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof policySyncWorkflow>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.workflow.start(policySyncWorkflow, {
        workflowId: manualWorkflowId(config.hub.name, now()),
        taskQueue: config.temporal.taskQueue,
        args: [input],
        typedSearchAttributes: syncSearchAttributes(config.hub.name),
        staticSummary: `Policy sync of hub ${config.hub.name} (manual)`,
        staticDetails: syncStaticDetails(config.hub.name, input.target, '`policy-sync run`'),
      });
    } catch (error) {
      // The id is the time to the millisecond: two runs of one hub started in the same millisecond meet here.
      // The later one takes the next millisecond.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError) || attempt >= 5) throw error;
      await sleep(2);
    }
  }
}

export interface SyncRef {
  workflowId: string;
  runId: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
}

function hubQuery(hub: string): string {
  // Hub names are letters, digits and hyphens (config validates), so quoting is safe.
  return `WorkflowType='${SYNC_WORKFLOW_TYPE}' AND IotHub='${hub}'`;
}

/** The hub's running sync, if any. */
export async function findRunningSync(client: Client, hub: string): Promise<SyncRef | undefined> {
  return (await findRunningSyncs(client, hub, 1))[0];
}

/**
 * Every running sync of the hub (manual and scheduled may run side by side), oldest first; at most `limit`.
 */
export async function findRunningSyncs(client: Client, hub: string, limit = 100): Promise<SyncRef[]> {
  const refs: SyncRef[] = [];
  for await (const info of client.workflow.list({
    query: `${hubQuery(hub)} AND ExecutionStatus='Running'`,
    pageSize: Math.min(limit, 100),
  })) {
    refs.push({
      workflowId: info.workflowId,
      runId: info.runId,
      status: info.status.name,
      startTime: info.startTime,
    });
    if (refs.length >= limit) break;
  }
  return refs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
}

/** The hub's running sync, else the one that started last. */
export async function findLatestSync(client: Client, hub: string): Promise<SyncRef | undefined> {
  const running = await findRunningSync(client, hub);
  if (running) return running;
  let latest: SyncRef | undefined;
  let seen = 0;
  // SQL visibility lists the most recently closed first; look at a page to pick the latest start.
  for await (const info of client.workflow.list({ query: hubQuery(hub), pageSize: 20 })) {
    if (!latest || info.startTime > latest.startTime) {
      latest = {
        workflowId: info.workflowId,
        runId: info.runId,
        status: info.status.name,
        startTime: info.startTime,
        closeTime: info.closeTime,
      };
    }
    if (++seen >= 20) break;
  }
  return latest;
}

/** The `metrics` query with a deadline; undefined when no worker answers in time. */
export async function queryMetrics(
  client: Client,
  workflowId: string,
  timeoutInMs = 5_000,
): Promise<SyncMetrics | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await client.connection.withDeadline(Date.now() + timeoutInMs, () => handle.query(metricsQuery));
  } catch {
    return undefined;
  }
}

/** What a closed sync came to. */
export type SyncOutcome =
  | { status: 'COMPLETED'; summary: RunSummary }
  | { status: 'FAILED' | 'CANCELLED' | 'TERMINATED' | 'TIMED_OUT'; message: string; type?: string };

/** How a sync closed, by the failure class its WorkflowFailedError carries. */
export function closedStatus(cause: unknown): Exclude<SyncOutcome['status'], 'COMPLETED'> {
  if (cause instanceof CancelledFailure) return 'CANCELLED';
  if (cause instanceof TerminatedFailure) return 'TERMINATED';
  if (cause instanceof TimeoutFailure) return 'TIMED_OUT';
  return 'FAILED';
}

/** The outcome of a closed sync (following continue-as-new to the last run). */
export async function syncOutcome(client: Client, workflowId: string): Promise<SyncOutcome> {
  const handle = client.workflow.getHandle<typeof policySyncWorkflow>(workflowId);
  try {
    return { status: 'COMPLETED', summary: await handle.result() };
  } catch (error) {
    if (error instanceof WorkflowFailedError) {
      const cause = error.cause as (Error & { type?: string }) | undefined;
      // A failed activity or batch wraps the error that says what went wrong (a file, a missing action): show that.
      const reason = innermostCause(
        cause,
        (e) => e instanceof ActivityFailure || e instanceof ChildWorkflowFailure,
      ) as (Error & { type?: string }) | undefined;
      return {
        status: closedStatus(cause),
        message: reason?.message ?? error.message,
        type: reason?.type ?? cause?.type,
      };
    }
    throw error;
  }
}

/** Metrics derived from a summary: what `status` shows for a closed sync when no worker answers queries. */
export function metricsFromSummary(summary: RunSummary): SyncMetrics {
  const failureCount = failedDeviceCount(summary);
  return {
    phase: 'done',
    devicesTotal: summary.devicesTotal,
    devicesDone: summary.succeeded + summary.unchanged + failureCount,
    successCount: summary.succeeded,
    failureCount,
    unchangedCount: summary.unchanged,
    driftedCount: summary.drifted ?? 0,
    authErrors: summary.authErrors,
    ...(summary.writeAttempts === undefined ? {} : { writeAttempts: summary.writeAttempts }),
    throttledCount: summary.throttled,
    retriedCount: 0,
    authErrorRate: summary.writeAttempts ? summary.authErrors / summary.writeAttempts : 0,
    lastSuccessTime: null,
    startedAt: null,
    alerts: summary.alerts,
    target: summary.target,
    ...(summary.compliance ? { compliance: summary.compliance } : {}),
  };
}

export interface WatchOptions {
  onMetrics(metrics: SyncMetrics): void;
  /** @default 1000 */
  intervalInMs?: number;
  signal?: AbortSignal;
}

/** Thrown when the person watching stops (Ctrl-C); the sync itself goes on. */
export class WatchInterruptedError extends Error {
  override readonly name = 'WatchInterruptedError';
  readonly code = 'WATCH_INTERRUPTED';
}

/** Polls `metrics` until the sync closes, then returns its outcome. */
export async function watchSync(
  client: Client,
  workflowId: string,
  options: WatchOptions,
): Promise<SyncOutcome> {
  const interval = options.intervalInMs ?? 1_000;
  const outcome = syncOutcome(client, workflowId);
  let closed = false;
  outcome.then(
    () => (closed = true),
    () => (closed = true),
  );
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(new WatchInterruptedError(`stopped watching ${workflowId}`));
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
  });
  aborted.catch(() => undefined);
  const poll = (async () => {
    while (!closed && !options.signal?.aborted) {
      const metrics = await queryMetrics(client, workflowId, Math.max(interval * 3, 3_000));
      if (metrics && !closed) options.onMetrics(metrics);
      await Promise.race([sleep(interval), outcome.catch(() => undefined)]);
    }
  })();
  const result = await Promise.race([outcome, aborted]);
  await Promise.race([poll, aborted.catch(() => undefined)]);
  return result;
}
