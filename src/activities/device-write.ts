/**
 * One device's write, as applySecurityPolicy runs it (one activity per device) and as applySecurityPolicies
 * runs it for each device of a group (the devices a batch's authorization gate held together). Tries and
 * counters are the device's own either way: `attempt` numbers the device's tries, a 403 while the grant settles
 * is tried again within the attempt, and a failure is an ApplicationFailure typed by FailureType whose
 * details[0] carries the counters (AttemptFailureDetails).
 */
import type { ApplicationFailure, MetricMeter } from '@temporalio/common';
import { GATE_HELD } from '../azure/authorization-gate';
import { isAzureRequestError } from '../azure/errors';
import { abortableSleep } from '../azure/pacing';
import type {
  ApplyPolicyInput,
  ApplyPolicyResult,
  AttemptCounters,
  AttemptFailureDetails,
  GroupedDeviceResult,
} from '../domain/activity-contract';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../domain/failure-codes';
import type { ActivityDeps } from './activity-deps';
import { mapFailure, toApplicationFailure, willBeRetried, type RetryOutlook } from './failures';
import { recordResponses, recordWrite, type ProductMetricScope } from './product-metrics';
import {
  gatedRetryDelayInMs,
  gateWaitInMs,
  type GrantEvidence,
  SETTLING_EVIDENCE_WINDOW_MS,
  settlingDelayInMs,
  settlingPauseInMs,
  triesAgainWithinAttempt,
} from './retry-delay';

/** How long a local first attempt waits at a probing authorization gate before it hands the device on. */
export const LOCAL_GATE_WAIT_MS = 1_000;

/** applySecurityPolicies stops a device still writing this long before its start-to-close timeout. */
export const GROUP_DEADLINE_MARGIN_MS = 3_000;

/** How often applySecurityPolicies heartbeats its progress (the workflow sets a heartbeat timeout of 10 s). */
export const GROUP_HEARTBEAT_INTERVAL_MS = 2_000;

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

/** The activity run a device's write happens in, as the write needs it. */
export interface DeviceRun {
  /** The workflow's local first attempt: one try; held at a probing gate for a moment, it hands the device on. */
  isLocal: boolean;
  /** Temporal's attempt number of the activity (1 for a group's write). */
  activityAttempt: number;
  /** The device's counters as its activity's last attempt left them (undefined: start from `prior`). */
  heartbeatDetails: unknown;
  startToCloseTimeoutMs: number;
  cancellationSignal: AbortSignal;
  metricMeter: MetricMeter;
  /** Keeps the device's counters after a failed try, for the next attempt (durable activities). */
  heartbeat?: (details: AttemptCounters) => void;
  /** Whether a failure will be retried, besides the device's own budget (Temporal's ActivityInfo). */
  outlook: Omit<RetryOutlook, 'deviceAttempt' | 'deviceMaximumAttempts'>;
}

export interface DeviceWriteContext {
  deps: ActivityDeps;
  random: () => number;
  now: () => number;
  grant: GrantEvidence;
  /** The failure for a sync of another hub than this worker's, or undefined. */
  wrongHubFailure(hub: string | undefined, counters?: AttemptCounters): ApplicationFailure | undefined;
}

/** Writes one device's policy within one activity run; throws a typed ApplicationFailure when it cannot. */
export async function writeDevice(
  input: ApplyPolicyInput,
  run: DeviceRun,
  { deps, random, now, grant, wrongHubFailure }: DeviceWriteContext,
): Promise<ApplyPolicyResult> {
  // A retry reads the counters back from its last heartbeat; the first attempt starts from `prior`. `attempt`
  // numbers the device's tries (requests that could write it), those made again within an attempt included.
  const details: unknown = run.heartbeatDetails ?? input.prior;
  let attempt = Math.max((input.prior?.attempts ?? 0) + run.activityAttempt, lastTryOf(details) + 1);
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
    recordWrite(run.metricMeter, scope, 'failed', FailureType.Misconfigured);
    throw refused;
  }
  const writer = deps.writers[input.target];
  // The attempt ends in time for its own timeout, however long the gate holds it.
  const attemptEndsAtInMs = now() + gateWaitInMs(run.startToCloseTimeoutMs);
  // A device refused before (403) writes with a token issued after that: its last refusal, or this attempt's
  // start when the refusal was an earlier attempt's.
  let refusedAtInMs = counters.authErrors > 0 ? now() : undefined;
  for (;;) {
    try {
      const document = await deps.inventory.policyDocument(
        input.snapshotId,
        input.policy,
        run.cancellationSignal,
      );
      const { status } = await writer.writePolicy({
        deviceId: input.deviceId,
        document,
        abortSignal: run.cancellationSignal,
        // Refusals (403, 429) come before Azure acts: until a try ends unsure, the observation holds.
        knownAbsent: input.observedAbsent === true && counters.unsure === 0,
        // A local first attempt hands a held device on to the durable activity (which the UI shows) after a
        // moment; a durable attempt waits, then goes as a probe.
        gateWait: run.isLocal
          ? { maxWaitInMs: LOCAL_GATE_WAIT_MS, thenGiveUp: true }
          : { maxWaitInMs: Math.max(0, attemptEndsAtInMs - now()) },
        ...(refusedAtInMs === undefined ? {} : { freshTokenAfterInMs: refusedAtInMs }),
      });
      grant.noteSuccess(input.target, now());
      log.debug(`Policy '${input.policy}' ${status}`, { attempt });
      recordWrite(run.metricMeter, scope, status);
      return {
        status,
        attempts: attempt,
        authErrors: counters.authErrors,
        throttled: counters.throttled,
        ...unsureOf(counters),
      };
    } catch (error) {
      if (run.cancellationSignal.aborted) throw error;
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
            heldAtGate: true,
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
      recordResponses(run.metricMeter, scope, {
        forbidden: next.authErrors - counters.authErrors,
        throttled: next.throttled - counters.throttled,
        ...(throttledStatus === undefined ? {} : { throttledStatus }),
      });
      run.heartbeat?.({ attempts: attempt, ...next });
      const gated = writer.gate?.isProbing() === true;
      if (
        triesAgainWithinAttempt({
          isLocal: run.isLocal,
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
        recordWrite(run.metricMeter, scope, 'retrying', mapping.type);
        counters = next;
        attempt += 1;
        refusedAtInMs = now();
        if (!gated) await abortableSleep(settlingPauseInMs(random), run.cancellationSignal);
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
        ...run.outlook,
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
      recordWrite(run.metricMeter, scope, retried ? 'retrying' : 'failed', mapping.type);
      throw toApplicationFailure(
        mapping,
        { attempts: attempt, authErrors: next.authErrors, throttled: next.throttled, ...unsureOf(next) },
        { benign: retried },
      );
    }
  }
}

/** A grouped device's failed write: handed on to its own activity when a retry may heal it, else final. */
export function groupedFailure(
  deviceId: string,
  error: ApplicationFailure,
  prior: AttemptCounters,
): GroupedDeviceResult {
  const details = (error.details?.[0] ?? {}) as Partial<AttemptFailureDetails>;
  const carried = carriedCounters(details);
  const counters: AttemptCounters = {
    attempts: typeof details.attempts === 'number' ? details.attempts : prior.attempts + 1,
    authErrors: carried.authErrors,
    throttled: carried.throttled,
    ...(carried.unsure > 0 ? { unsure: carried.unsure } : {}),
  };
  const type = error.type ?? FailureType.Transient;
  if (error.nonRetryable || NON_RETRYABLE_FAILURE_TYPES.some((final) => final === type))
    return { deviceId, failed: { type, message: error.message, counters } };
  const delay = details.nextRetryDelayInMs;
  return {
    deviceId,
    handOn: { prior: counters, delayInMs: typeof delay === 'number' && delay >= 0 ? delay : 1_000 },
  };
}

/**
 * A grouped device whose write was stopped at the group's deadline: handed on. The write in flight counts as a
 * try after which Azure may have acted (`unsure`), so the next one reads before it writes.
 */
export function stoppedAtDeadline(deviceId: string, last: AttemptCounters): GroupedDeviceResult {
  return {
    deviceId,
    handOn: {
      prior: {
        attempts: last.attempts + 1,
        authErrors: last.authErrors,
        throttled: last.throttled,
        unsure: (last.unsure ?? 0) + 1,
      },
      delayInMs: 0,
    },
  };
}
