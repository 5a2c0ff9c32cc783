/**
 * What a rerun signal asks for, decided without I/O: refused, the whole inventory, or a list of devices; and,
 * once the list is looked up in the inventory, which devices come off the failure books and which are extra
 * writes. Pure; sandbox-safe. See README.md, "Reruns".
 */
import type { DeviceAssignment, Rejection } from '../domain/inventory';
import type { SyncState } from './carried-state';
import { planWrites, uncountFailures } from './metrics';
import { validateRerunRequest } from './options';
import type { RerunRequest } from './types';

/** Unknown device ids of one rerun listed one by one in `rejected`; the rest are counted in one entry. */
export const RERUN_REJECTIONS_LISTED = 100;

export type RerunScope =
  | { kind: 'refused'; rejection: Rejection }
  | { kind: 'wholeInventory' }
  | { kind: 'devices'; deviceIds: string[] };

/** What a request asks for, given the devices failed so far and whether the sync was aborted. */
export function rerunScope(
  request: RerunRequest,
  failedIds: ReadonlySet<string>,
  aborted: boolean,
): RerunScope {
  const problem = validateRerunRequest(request);
  if (problem) return { kind: 'refused', rejection: { source: 'rerun', row: 0, reason: problem } };
  if (aborted)
    return {
      kind: 'refused',
      rejection: {
        source: 'rerun',
        row: 0,
        reason: 'The sync was aborted (AbortThreshold); start a new sync',
      },
    };
  if (!request.failedOnly && request.deviceIds === undefined) return { kind: 'wholeInventory' };
  const requested = request.deviceIds ? [...new Set(request.deviceIds)] : [...failedIds];
  return {
    kind: 'devices',
    deviceIds: request.failedOnly ? requested.filter((id) => failedIds.has(id)) : requested,
  };
}

/** The rejections for ids of a rerun that are not in the inventory (row: 1-based in the request's list). */
export function unknownDeviceRejections(request: RerunRequest, unknown: readonly string[]): Rejection[] {
  const rejections: Rejection[] = unknown.slice(0, RERUN_REJECTIONS_LISTED).map((id) => ({
    source: 'rerun',
    row: (request.deviceIds?.indexOf(id) ?? -1) + 1,
    reason: `Device ${id} is not in the inventory`,
  }));
  if (unknown.length > RERUN_REJECTIONS_LISTED)
    rejections.push({
      source: 'rerun',
      row: 0,
      reason: `${unknown.length - RERUN_REJECTIONS_LISTED} more device ids of this rerun are not in the inventory (not listed)`,
    });
  return rejections;
}

/**
 * Devices that failed come off the books and are written again (`requeue`). Other devices are extra writes —
 * except before the first batch, when every inventory device is still to be written anyway.
 */
export function planRerun(
  devices: readonly DeviceAssignment[],
  failedIds: ReadonlySet<string>,
  nothingBatchedYet: boolean,
): { requeue: DeviceAssignment[]; extra: DeviceAssignment[] } {
  return {
    requeue: devices.filter((device) => failedIds.has(device.deviceId)),
    extra: nothingBatchedYet ? [] : devices.filter((device) => !failedIds.has(device.deviceId)),
  };
}

/** `rerun {}`: every inventory device already taken is read again; the current failures come off the books. */
export function rerunWholeInventory(state: SyncState): void {
  // A rerun is a user asking for every device to be written: read each one again, not the observation.
  state.reconciles = false;
  state.counters = uncountFailures(state.counters, state.failures.clear());
  const readded = state.backlog.readdTaken(state.snapshot?.deviceCount ?? 0);
  state.counters = planWrites(state.counters, readded);
}

/** A rerun of a list of devices, once looked up in the inventory: `found` are queued, `unknown` rejected. */
export function rerunDevices(
  state: SyncState,
  request: RerunRequest,
  found: { devices: readonly DeviceAssignment[]; unknown: readonly string[] },
  failedIds: ReadonlySet<string>,
): void {
  state.rejected.push(...unknownDeviceRejections(request, found.unknown));
  // A reconciling sync may count inventory devices unchanged without a write: named devices are extra writes.
  const nothingTakenYet =
    state.nextBatchNumber === 1 && state.counters.devicesDone === 0 && !state.reconciles;
  const { requeue, extra } = planRerun(found.devices, failedIds, nothingTakenYet);
  const requeueIds = new Set(requeue.map((device) => device.deviceId));
  state.counters = uncountFailures(state.counters, state.failures.remove(requeueIds));
  const added = [...requeue, ...extra].filter((device) => state.backlog.enqueue(device)).length;
  state.counters = planWrites(state.counters, added);
}

/**
 * Applies one rerun request to the state: refused (recorded as a rejection), the whole inventory, or the
 * devices named, looked up with `find` (the inventory lookup activity, injected so this stays testable).
 */
export async function applyRerun(
  state: SyncState,
  request: RerunRequest,
  aborted: boolean,
  find: (deviceIds: string[]) => Promise<{ devices: DeviceAssignment[]; unknown: string[] }>,
): Promise<RerunScope['kind']> {
  const failedIds = new Set(state.failures.deviceIds());
  const scope = rerunScope(request, failedIds, aborted);
  if (scope.kind === 'refused') state.rejected.push(scope.rejection);
  else if (scope.kind === 'wholeInventory') rerunWholeInventory(state);
  else {
    const found = state.snapshot ? await find(scope.deviceIds) : { devices: [], unknown: [] };
    rerunDevices(state, request, found, failedIds);
  }
  return scope.kind;
}
