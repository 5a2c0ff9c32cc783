/**
 * The activities: thin wrappers around the Azure and inventory layers. `createActivities(deps)` is what
 * the worker registers; workflows only ever see the `PolicySyncActivities` type.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  AttemptCounters,
  GroupedDeviceResult,
  GroupProgress,
  PolicySyncActivities,
} from '../domain/activity-contract';
import { FailureType } from '../domain/failure-codes';
import { mapFailure, toApplicationFailure } from './failures';
import { assessFleetCompliance } from './assess-compliance';
import { recordAlert, recordCompliance } from './product-metrics';
import { GrantEvidence } from './retry-delay';
import type { ActivityDeps } from './activity-deps';
import {
  GROUP_DEADLINE_MARGIN_MS,
  GROUP_HEARTBEAT_INTERVAL_MS,
  groupedFailure,
  stoppedAtDeadline,
  writeDevice,
  type DeviceWriteContext,
} from './device-write';
import { driftedPage, judgeDevices } from './drifted-page';

export type * from '../domain/activity-contract';
export type { ActivityDeps, InventoryAccess, PermissionChecker } from './activity-deps';
export { LOCAL_GATE_WAIT_MS } from './device-write';
export {
  createActivityDeps,
  inventorySourceOptions,
  type ActivityDepsOptions,
  type WorkerAzureAccess,
} from './deps';

/** Rejections returned in a LoadInventoryResult; `rejectedCount` has the total. */
export const MAX_RETURNED_REJECTIONS = 1000;

/** How often readDriftedInventoryPage heartbeats while the fleet is observed (a large fleet takes minutes). */
export const OBSERVATION_HEARTBEAT_INTERVAL_MS = 5_000;

export function createActivities(deps: ActivityDeps): PolicySyncActivities {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const grant = new GrantEvidence();

  /** The failure for an activity of a sync of another hub than this worker's, or undefined when it may run. */
  function wrongHubFailure(
    hub: string | undefined,
    counters?: AttemptCounters,
  ): ApplicationFailure | undefined {
    if (hub === undefined || deps.hub === undefined || hub.toLowerCase() === deps.hub.toLowerCase())
      return undefined;
    const message =
      `a sync of hub '${hub}' reached a worker configured for hub '${deps.hub}' (IOT_HUB_NAME), which will not ` +
      `touch another hub: run a worker for '${hub}' on a task queue of its own (TEMPORAL_TASK_QUEUE) and start ` +
      `that hub's syncs there`;
    return toApplicationFailure({ type: FailureType.Misconfigured, nonRetryable: true, message }, counters);
  }

  const writing: DeviceWriteContext = { deps, random, now, grant, wrongHubFailure };

  /** Runs `fn`, turning every failure into a typed ApplicationFailure (cancellation passes through). */
  async function boundary<T>(name: string, fn: (ctx: Context) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    try {
      return await fn(ctx);
    } catch (error) {
      if (ctx.cancellationSignal.aborted || error instanceof ApplicationFailure) throw error;
      const mapping = mapFailure(error, ctx.info.attempt, random, deps.backoff);
      deps.logger.warn(`${name} failed: ${mapping.message}`, {
        activity: name,
        type: mapping.type,
        attempt: ctx.info.attempt,
      });
      throw toApplicationFailure(mapping);
    }
  }

  return {
    async checkRolePropagation({ target, hub }) {
      const refused = wrongHubFailure(hub);
      if (refused) throw refused;
      return boundary('checkRolePropagation', (ctx) =>
        deps.permissions.check(target, ctx.cancellationSignal),
      );
    },

    async loadInventory({ deviceIds, hub }) {
      const refused = wrongHubFailure(hub);
      if (refused) throw refused;
      return boundary('loadInventory', async (ctx) => {
        const { snapshot, rejected } = await deps.inventory.load(deviceIds, ctx.cancellationSignal);
        deps.logger.info('Inventory loaded', {
          snapshotId: snapshot.id,
          devices: snapshot.devices.length,
          rejected: rejected.length,
        });
        return {
          snapshot: { id: snapshot.id, deviceCount: snapshot.devices.length },
          rejected: rejected.slice(0, MAX_RETURNED_REJECTIONS),
          rejectedCount: rejected.length,
        };
      });
    },

    async readInventoryPage({ snapshotId, offset, limit }) {
      return boundary('readInventoryPage', (ctx) =>
        deps.inventory.readPage(snapshotId, offset, limit, ctx.cancellationSignal),
      );
    },

    async readDriftedInventoryPage({ hub, target, snapshotId, syncId, offset, limit }) {
      const refused = wrongHubFailure(hub);
      if (refused) throw refused;
      return boundary('readDriftedInventoryPage', async (ctx) => {
        const devices = await deps.inventory.readPage(snapshotId, offset, limit, ctx.cancellationSignal);
        const store = deps.observations;
        if (!store) return driftedPage(devices, offset, 'unsupported');
        const heartbeat = setInterval(() => ctx.heartbeat(), OBSERVATION_HEARTBEAT_INTERVAL_MS);
        try {
          // The observation outlives this attempt (a retry, or the next page, joins it): the attempt stops
          // waiting when cancelled, the read goes on.
          const verdicts = await Promise.race([
            judgeDevices(devices, {
              store,
              key: { hub, target, snapshotId, syncId },
              documentOf: (policy) =>
                deps.inventory.policyDocument(snapshotId, policy, ctx.cancellationSignal),
              listsEveryDevice: target === 'twin',
            }),
            ctx.cancelled,
          ]);
          const page = driftedPage(devices, offset, verdicts);
          deps.logger.debug('Inventory page observed', {
            offset,
            devices: devices.length,
            toWrite: page.devices.length,
            unchanged: page.unchanged,
            observation: page.observation,
          });
          return page;
        } finally {
          clearInterval(heartbeat);
        }
      });
    },

    async findDevices({ snapshotId, deviceIds }) {
      return boundary('findDevices', (ctx) =>
        deps.inventory.findDevices(snapshotId, deviceIds, ctx.cancellationSignal),
      );
    },

    async applySecurityPolicy(input) {
      const ctx = Context.current();
      return writeDevice(
        input,
        {
          isLocal: ctx.info.isLocal,
          activityAttempt: ctx.info.attempt,
          heartbeatDetails: ctx.info.heartbeatDetails,
          startToCloseTimeoutMs: ctx.info.startToCloseTimeoutMs,
          cancellationSignal: ctx.cancellationSignal,
          metricMeter: ctx.metricMeter,
          // The next attempt reads these back from info.heartbeatDetails. A local attempt has no heartbeats (the
          // workflow reads the failure's details instead).
          ...(ctx.info.isLocal ? {} : { heartbeat: (details: AttemptCounters) => ctx.heartbeat(details) }),
          outlook: ctx.info,
        },
        writing,
      );
    },

    async applySecurityPolicies(input) {
      const ctx = Context.current();
      const refused = wrongHubFailure(input.hub);
      if (refused) throw refused;
      const { devices, ...common } = input;
      // What the group has come to, in the heartbeat details: the Temporal UI shows them, and a batch whose group
      // was lost (its worker gone) takes each device on from there (GroupProgress).
      const progress: GroupProgress = { devices: {}, written: {} };
      const beat = () => ctx.heartbeat(progress);
      const alive = setInterval(beat, GROUP_HEARTBEAT_INTERVAL_MS);
      // A device still writing near the group's timeout is stopped and handed on: the group itself never times
      // out while its worker lives, and no device's write outlives it.
      const deadline = new AbortController();
      const stop = setTimeout(
        () => deadline.abort(new Error('the group of held devices is near its timeout')),
        Math.max(1_000, ctx.info.startToCloseTimeoutMs - GROUP_DEADLINE_MARGIN_MS),
      );
      const signal = AbortSignal.any([ctx.cancellationSignal, deadline.signal]);
      try {
        const results = await Promise.all(
          devices.map(async ({ deviceId, policy, prior, observedAbsent }): Promise<GroupedDeviceResult> => {
            try {
              const written = await writeDevice(
                { ...common, deviceId, policy, prior, ...(observedAbsent ? { observedAbsent } : {}) },
                {
                  isLocal: false,
                  activityAttempt: 1,
                  heartbeatDetails: undefined,
                  startToCloseTimeoutMs: ctx.info.startToCloseTimeoutMs,
                  cancellationSignal: signal,
                  metricMeter: ctx.metricMeter,
                  heartbeat: (counters) => {
                    progress.devices[deviceId] = counters;
                  },
                  // A failure goes back to the batch, which hands the device to its own durable activity, as after
                  // a local first attempt: retried, unless it cannot heal or the device's attempts are spent.
                  outlook: { isLocal: true, attempt: 1 },
                },
                writing,
              );
              progress.written[deviceId] = written;
              return { deviceId, written };
            } catch (error) {
              if (ctx.cancellationSignal.aborted) throw error;
              // A try that ended on its own is judged as such, even as the deadline passes.
              if (error instanceof ApplicationFailure) return groupedFailure(deviceId, error, prior);
              if (deadline.signal.aborted)
                return stoppedAtDeadline(deviceId, progress.devices[deviceId] ?? prior);
              throw error;
            }
          }),
        );
        deps.logger.info('Devices held at the authorization gate written together', {
          devices: devices.length,
          written: results.filter((result) => result.written).length,
          handedOn: results.filter((result) => result.handOn).length,
          failed: results.filter((result) => result.failed).length,
        });
        return { devices: results };
      } finally {
        clearInterval(alive);
        clearTimeout(stop);
      }
    },

    async assessCompliance(input) {
      const refused = wrongHubFailure(input.hub);
      if (refused) throw refused;
      const { twins } = deps;
      if (input.target !== 'twin' || !twins)
        throw ApplicationFailure.nonRetryable(
          input.target !== 'twin'
            ? `assessCompliance reads devices' answers on the twin target; the ${input.target} target has none`
            : 'assessCompliance needs the twin reads (ActivityDeps.twins), which this worker was not given',
          FailureType.Misconfigured,
        );
      return boundary('assessCompliance', async (ctx) => {
        // Paced queries (and a throttled hub's Retry-After) can hold a page for longer than the heartbeat
        // timeout: the attempt says it is alive on a clock, not only per page read.
        const alive = setInterval(() => ctx.heartbeat(), OBSERVATION_HEARTBEAT_INTERVAL_MS);
        const result = await assessFleetCompliance(input, {
          inventory: deps.inventory,
          twins,
          abortSignal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
          now,
          onFallback: (message) => deps.logger.warn(message, { activity: 'assessCompliance' }),
        }).finally(() => clearInterval(alive));
        recordCompliance(ctx.metricMeter, input.hub, input.target, result.counts);
        deps.logger.info('Compliance assessed', {
          ...result.counts,
          pendingCount: result.pendingCount,
          deadlinePassed: input.deadlinePassed,
          queries: result.queries,
        });
        return result;
      });
    },

    async sendAlert(input) {
      return boundary('sendAlert', (ctx) => {
        // Raised once per alert: a retry is the same alert whose delivery failed.
        if (ctx.info.attempt === 1)
          recordAlert(
            ctx.metricMeter,
            { hub: input.hub, ...(input.target ? { target: input.target } : {}) },
            input.alert.kind,
          );
        return deps.alerts.send(input, ctx.cancellationSignal, ctx.info.attempt);
      });
    },
  };
}
