/**
 * The activities: thin wrappers around the Azure and inventory layers. `createActivities(deps)` is what
 * the worker registers; workflows only ever see the `PolicySyncActivities` type.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isAzureRequestError } from '../azure/errors';
import type { AttemptCounters, PolicySyncActivities } from '../domain/activity-contract';
import { FailureType } from '../domain/failure-codes';
import { mapFailure, toApplicationFailure, willBeRetried } from './failures';
import { assessFleetCompliance } from './assess-compliance';
import {
  recordAlert,
  recordCompliance,
  recordResponses,
  recordWrite,
  type ProductMetricScope,
} from './product-metrics';
import {
  gatedRetryDelayInMs,
  gateWaitInMs,
  GrantEvidence,
  SETTLING_EVIDENCE_WINDOW_MS,
  settlingDelayInMs,
  settlingPauseInMs,
  triesAgainWithinAttempt,
} from './retry-delay';
import { abortableSleep } from '../azure/pacing';
import { GATE_HELD } from '../azure/authorization-gate';
import type { ActivityDeps } from './activity-deps';
import { driftedPage, judgeDevices } from './drifted-page';

export type * from '../domain/activity-contract';
export type { ActivityDeps, InventoryAccess, PermissionChecker } from './activity-deps';
export {
  createActivityDeps,
  inventorySourceOptions,
  type ActivityDepsOptions,
  type WorkerAzureAccess,
} from './deps';

/** How long a local first attempt waits at a probing authorization gate before it hands the device on. */
export const LOCAL_GATE_WAIT_MS = 1_000;

/** Rejections returned in a LoadInventoryResult; `rejectedCount` has the total. */
export const MAX_RETURNED_REJECTIONS = 1000;

/** How often readDriftedInventoryPage heartbeats while the fleet is observed (a large fleet takes minutes). */
export const OBSERVATION_HEARTBEAT_INTERVAL_MS = 5_000;

/** What a device's earlier attempts came to, carried in heartbeat details (or `prior`). */
export type CarriedCounters = Required<Pick<AttemptCounters, 'authErrors' | 'throttled' | 'unsure'>>;

/** Counters carried from earlier attempts in heartbeat details. */
export function carriedCounters(details: unknown): CarriedCounters {
  const record = (typeof details === 'object' && details !== null ? details : {}) as Record<string, unknown>;
  const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
  return {
    authErrors: count(record.authErrors),
    throttled: count(record.throttled),
    unsure: count(record.unsure),
  };
}

/** The number of the last try recorded in heartbeat details (0 when none is). */
function lastTryOf(details: unknown): number {
  const tries =
    typeof details === 'object' && details !== null ? (details as Record<string, unknown>).attempts : 0;
  return typeof tries === 'number' && Number.isInteger(tries) && tries > 0 ? tries : 0;
}

/** `unsure` where there is one to carry (histories stay as they were for the usual case). */
function unsureOf(counters: CarriedCounters): { unsure?: number } {
  return counters.unsure > 0 ? { unsure: counters.unsure } : {};
}

/** The status of a throttling answer (429, or 503 asking to wait), else undefined. */
function throttlingStatus(error: unknown): number | undefined {
  return isAzureRequestError(error) && (error.statusCode === 429 || error.statusCode === 503)
    ? error.statusCode
    : undefined;
}

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
      // A retry reads the counters back from its last heartbeat; the first attempt starts from `prior`. `attempt`
      // numbers the device's tries (requests that could write it), those made again within an attempt included.
      const details: unknown = ctx.info.heartbeatDetails ?? input.prior;
      let attempt = Math.max((input.prior?.attempts ?? 0) + ctx.info.attempt, lastTryOf(details) + 1);
      let counters = carriedCounters(details);
      const log = deps.logger.child({ deviceId: input.deviceId, target: input.target });
      const scope: ProductMetricScope = { hub: input.hub ?? deps.hub ?? '', target: input.target };
      const refused = wrongHubFailure(input.hub, {
        attempts: attempt,
        authErrors: counters.authErrors,
        throttled: counters.throttled,
      });
      if (refused) {
        log.warn(refused.message, { attempt });
        recordWrite(ctx.metricMeter, scope, 'failed', FailureType.Misconfigured);
        throw refused;
      }
      const writer = deps.writers[input.target];
      // The attempt ends in time for its own timeout, however long the gate holds it.
      const attemptEndsAtInMs = now() + gateWaitInMs(ctx.info.startToCloseTimeoutMs);
      // A device refused before (403) writes with a token issued after that: its last refusal, or this attempt's
      // start when the refusal was an earlier attempt's.
      let refusedAtInMs = counters.authErrors > 0 ? now() : undefined;
      for (;;) {
        try {
          const document = await deps.inventory.policyDocument(
            input.snapshotId,
            input.policy,
            ctx.cancellationSignal,
          );
          const { status } = await writer.writePolicy({
            deviceId: input.deviceId,
            document,
            abortSignal: ctx.cancellationSignal,
            // Refusals (403, 429) come before Azure acts: until a try ends unsure, the observation holds.
            knownAbsent: input.observedAbsent === true && counters.unsure === 0,
            // A local first attempt hands a held device on to the durable activity (which the UI shows) after a
            // moment; a durable attempt waits, then goes as a probe.
            gateWait: ctx.info.isLocal
              ? { maxWaitInMs: LOCAL_GATE_WAIT_MS, thenGiveUp: true }
              : { maxWaitInMs: Math.max(0, attemptEndsAtInMs - now()) },
            ...(refusedAtInMs === undefined ? {} : { freshTokenAfterInMs: refusedAtInMs }),
          });
          grant.noteSuccess(input.target, now());
          log.debug(`Policy '${input.policy}' ${status}`, { attempt });
          recordWrite(ctx.metricMeter, scope, status);
          return {
            status,
            attempts: attempt,
            authErrors: counters.authErrors,
            throttled: counters.throttled,
            ...unsureOf(counters),
          };
        } catch (error) {
          if (ctx.cancellationSignal.aborted) throw error;
          if (isAzureRequestError(error) && error.azureCode === GATE_HELD) {
            // Held at the gate, nothing sent (a local first attempt only): not a try. The durable activity takes
            // the device on, from the same counters.
            const mapping = mapFailure(error, attempt, random, { ...deps.backoff, ...input.backoff });
            log.debug(mapping.message, { attempt });
            throw toApplicationFailure(
              mapping,
              {
                attempts: attempt - 1,
                authErrors: counters.authErrors,
                throttled: counters.throttled,
                ...unsureOf(counters),
              },
              { benign: true },
            );
          }
          let mapping = mapFailure(error, attempt, random, { ...deps.backoff, ...input.backoff });
          const throttledStatus = throttlingStatus(error);
          const authorization = mapping.type === FailureType.AuthorizationFailed;
          const next: CarriedCounters = {
            authErrors: counters.authErrors + (authorization ? 1 : 0),
            throttled: counters.throttled + (throttledStatus === undefined ? 0 : 1),
            unsure: counters.unsure + (authorization || mapping.type === FailureType.Throttled ? 0 : 1),
          };
          recordResponses(ctx.metricMeter, scope, {
            forbidden: next.authErrors - counters.authErrors,
            throttled: next.throttled - counters.throttled,
            ...(throttledStatus === undefined ? {} : { throttledStatus }),
          });
          // The next attempt reads these back from info.heartbeatDetails. A local attempt has no heartbeats (the
          // workflow reads the failure's details instead).
          if (!ctx.info.isLocal) ctx.heartbeat({ attempts: attempt, ...next });
          const gated = writer.gate?.isProbing() === true;
          if (
            triesAgainWithinAttempt({
              isLocal: ctx.info.isLocal,
              authorization: authorization && !mapping.nonRetryable,
              gated,
              settling: grant.seenWithin(input.target, now(), SETTLING_EVIDENCE_WINDOW_MS),
              attempt,
              ...(input.maximumAttempts === undefined ? {} : { maximumAttempts: input.maximumAttempts }),
              timeLeftInMs: attemptEndsAtInMs - now(),
            })
          ) {
            // The grant is settling: the gate holds the fleet and paces probes, or other writes of this hub pass
            // and the next try likely will too. Try again here (with a token issued after this refusal) instead of
            // a round trip through Temporal, whose retry timer adds a second or more and nothing else. The 403
            // counts as a failed attempt (heartbeat details, metrics, the device's outcome).
            log.info(`${mapping.message} Trying again within this attempt while the grant settles.`, {
              type: mapping.type,
              attempt,
              gated,
            });
            recordWrite(ctx.metricMeter, scope, 'retrying', mapping.type);
            counters = next;
            attempt += 1;
            refusedAtInMs = now();
            if (!gated) await abortableSleep(settlingPauseInMs(random), ctx.cancellationSignal);
            continue;
          }
          if (authorization && mapping.nextRetryDelayInMs !== undefined) {
            if (writer.gate?.isProbing()) {
              // The gate paces the retries while the grant settles: come back soon and wait there.
              mapping = {
                ...mapping,
                nextRetryDelayInMs: gatedRetryDelayInMs(mapping.nextRetryDelayInMs, random),
              };
            } else if (grant.seenWithin(input.target, now(), SETTLING_EVIDENCE_WINDOW_MS)) {
              mapping = {
                ...mapping,
                nextRetryDelayInMs: settlingDelayInMs(mapping.nextRetryDelayInMs, random),
              };
            }
          }
          // An attempt that will be retried is expected (RBAC propagating, throttling): one INFO line here, and
          // benign for Temporal, so its worker does not add a WARN with a stack per attempt. A device's final
          // failure stays a WARN and a regular failure.
          const retried = willBeRetried(mapping, {
            ...ctx.info,
            deviceAttempt: attempt,
            ...(input.maximumAttempts === undefined ? {} : { deviceMaximumAttempts: input.maximumAttempts }),
          });
          // Tries made again within attempts count against the device's budget, which Temporal's own count of
          // attempts does not see: a device out of tries is not retried.
          if (!retried && input.maximumAttempts !== undefined && attempt >= input.maximumAttempts)
            mapping = { ...mapping, nonRetryable: true };
          log[retried ? 'info' : 'warn'](mapping.message, {
            attempt,
            type: mapping.type,
            nonRetryable: mapping.nonRetryable,
            nextRetryDelayInMs: retried ? mapping.nextRetryDelayInMs : undefined,
          });
          recordWrite(ctx.metricMeter, scope, retried ? 'retrying' : 'failed', mapping.type);
          throw toApplicationFailure(
            mapping,
            { attempts: attempt, authErrors: next.authErrors, throttled: next.throttled, ...unsureOf(next) },
            { benign: retried },
          );
        }
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
