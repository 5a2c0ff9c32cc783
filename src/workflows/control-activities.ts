/**
 * The parent's activities besides the writes (which its batches run): permission checks, the inventory and
 * alert delivery, each with its timeouts; and the loops around them (paged lookups, the preflight's
 * rechecks). Workflow code.
 */
import { ApplicationFailure, log, proxyActivities, sleep } from '@temporalio/workflow';
import type { PolicySyncActivities, ReadDriftedPageResult } from '../domain/activity-contract';
import type { PolicyTarget } from '../domain/policy-target';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../domain/failure-codes';
import type { DeviceAssignment } from '../domain/inventory';
import type { PermissionReport } from '../domain/permissions';
import type { InventoryPage } from './device-backlog';
import type { ResolvedSyncOptions } from './options';
import { nextPreflightWait } from './preflight-backoff';
import type { PolicySyncInput } from './types';

export const controlRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
};
// Short start-to-close timeouts: these are quick reads, and a worker lost mid-call costs the sync this long.
export const { readInventoryPage, findDevices } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '20 seconds',
  retry: controlRetry,
});
// The first page of a sync observes the whole fleet (a large one at IoT Hub's query rate takes minutes); it
// heartbeats meanwhile, so a lost worker costs the heartbeat timeout, not the start-to-close one.
export const { readDriftedInventoryPage } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: controlRetry,
});
export const { checkRolePropagation } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '30 seconds',
  retry: controlRetry,
});
export const { loadInventory } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '10 minutes',
  retry: controlRetry,
});
// Bounded, because the sync waits for its alerts to be delivered before it ends.
export const { sendAlert } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: controlRetry,
});
// Runs with ALERT_DELIVERY_BUDGET_PATCH: few quick attempts, so that a refusing webhook's cause is known by the
// end of the sync rather than still being retried.
export const { sendAlert: sendAlertBounded } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '30 seconds',
  retry: { ...controlRetry, maximumAttempts: 3 },
});

/** One page of the snapshot, which must hold every device the page asks for (the snapshot never changes). */
export async function readPage(snapshotId: string, page: InventoryPage): Promise<DeviceAssignment[]> {
  const { offset, limit } = page;
  const devices = await readInventoryPage({ snapshotId, offset, limit });
  if (devices.length !== limit)
    throw ApplicationFailure.nonRetryable(
      `The inventory returned ${devices.length} devices at offset ${offset} instead of ${limit}`,
      FailureType.InventoryChanged,
    );
  return devices;
}

/** A page of the snapshot judged against the fleet's observation; like readPage, it must hold the whole page. */
export async function readObservedPage(
  input: { hub: string; target: PolicyTarget; snapshotId: string; syncId: string },
  page: InventoryPage,
): Promise<ReadDriftedPageResult> {
  const { offset, limit } = page;
  const result = await readDriftedInventoryPage({ ...input, offset, limit });
  const read = result.devices.length + result.unchanged;
  if (read !== limit || result.offsets.length !== result.devices.length)
    throw ApplicationFailure.nonRetryable(
      `The inventory returned ${read} devices at offset ${offset} instead of ${limit}`,
      FailureType.InventoryChanged,
    );
  return result;
}

/** findDevices a page at a time, so that no activity result holds more than a page of devices. */
export async function findInInventory(
  snapshotId: string,
  ids: string[],
  pageSize: number,
): Promise<{ devices: DeviceAssignment[]; unknown: string[] }> {
  const devices: DeviceAssignment[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < ids.length; i += pageSize) {
    const found = await findDevices({ snapshotId, deviceIds: ids.slice(i, i + pageSize) });
    devices.push(...found.devices);
    unknown.push(...found.unknown);
  }
  return { devices, unknown };
}

/**
 * Checks the principal's permissions until they are effective (undefined) or the preflight timeout is spent
 * (the last report, and how long it waited). `onWaiting` hears each wait's note.
 */
export async function waitForPermissions(
  input: Pick<PolicySyncInput, 'hub' | 'target'>,
  options: ResolvedSyncOptions['preflight'],
  onWaiting: (note: string) => void,
): Promise<{ report: PermissionReport; waitedInMs: number } | undefined> {
  const started = Date.now();
  for (let checks = 1; ; checks++) {
    const report = await checkRolePropagation({ target: input.target, hub: input.hub });
    if (report.granted) return undefined;
    const waitedInMs = Date.now() - started;
    const wait = nextPreflightWait(waitedInMs, checks, options);
    if (wait === undefined) return { report, waitedInMs };
    onWaiting(
      `Waiting for permissions to propagate; missing: ${report.missing.join(', ') || '(not reported)'}`,
    );
    log.info('Permissions not effective yet; checking again', {
      missing: report.missing,
      waitMs: wait,
      checks,
    });
    await sleep(wait);
  }
}
