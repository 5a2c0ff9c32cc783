/**
 * The exact diff between what the inventory wants and what a bulk read observed: per device create, update,
 * unchanged, not in hub, or orphan, with counts. Pure and sandbox-safe (no Node imports), so a workflow may
 * use it; fingerprints (sha256 of canonicalJson) are computed outside the sandbox.
 */
import type { PolicyDocument } from './inventory';

export type PlanAction = 'create' | 'update' | 'unchanged' | 'notInHub' | 'orphan';

/** What the inventory wants for one device. */
export interface PlanAssignment {
  deviceId: string;
  /** The policy's name. */
  policy: string;
  document: PolicyDocument;
}

/** What a bulk read saw for one device: its policy, or null when it holds none. */
export interface PlanObservation {
  deviceId: string;
  document: PolicyDocument | null;
}

export interface PlanEntry {
  deviceId: string;
  action: PlanAction;
  /** The inventory's policy name; absent for an orphan. */
  policy?: string;
  reason?: string;
}

export interface PlanCounts {
  create: number;
  update: number;
  unchanged: number;
  notInHub: number;
  orphan: number;
}

export interface FleetPlan {
  /** Every device, inventory order first, then orphans in observation order. */
  entries: PlanEntry[];
  counts: PlanCounts;
}

export interface PlanFleetOptions {
  /**
   * Whether the observations list every device of the hub (the twin query does), so that an inventory
   * device not among them is not in the hub. ARM's list holds only devices with a policy: there an
   * unobserved device is planned `create` (a device the hub lacks then fails its write, DeviceNotFound).
   */
  listsEveryDevice: boolean;
  /** Devices known to be absent from the hub (per-device reads that answered 404 DeviceNotFound). */
  notInHub?: Iterable<string>;
  /**
   * Whether observed devices outside the inventory are reported as orphans (those holding a policy).
   * False when only a selection of the inventory is planned. @default true
   */
  reportOrphans?: boolean;
}

/**
 * JSON with object keys sorted at every depth, array order kept, `undefined` members left out (as
 * JSON.stringify does): two documents are equal exactly when their canonical JSON is.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : sortKeys(item)));
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) sorted[key] = sortKeys(member);
  }
  return sorted;
}

/** create when the device holds no policy, unchanged when it holds exactly the desired one, else update. */
export function planDevice(
  desired: PolicyDocument,
  observed: PolicyDocument | null | undefined,
): 'create' | 'update' | 'unchanged' {
  if (observed === null || observed === undefined) return 'create';
  return canonicalJson(observed) === canonicalJson(desired) ? 'unchanged' : 'update';
}

/** The plan of a fleet: every inventory device, then the hub's devices with a policy the inventory lacks. */
export function planFleet(
  assignments: Iterable<PlanAssignment>,
  observations: Iterable<PlanObservation>,
  options: PlanFleetOptions,
): FleetPlan {
  const observed = new Map<string, PlanObservation>();
  for (const observation of observations) observed.set(observation.deviceId, observation);
  const absent = new Set(options.notInHub ?? []);
  const counts: PlanCounts = { create: 0, update: 0, unchanged: 0, notInHub: 0, orphan: 0 };
  const entries: PlanEntry[] = [];
  const planned = new Set<string>();
  for (const { deviceId, policy, document } of assignments) {
    if (planned.has(deviceId)) continue;
    planned.add(deviceId);
    const seen = observed.get(deviceId);
    let entry: PlanEntry;
    if (absent.has(deviceId) || (seen === undefined && options.listsEveryDevice)) {
      entry = { deviceId, action: 'notInHub', policy, reason: 'the hub has no device with this id' };
    } else {
      const action = planDevice(document, seen?.document);
      entry = { deviceId, action, policy };
      if (action === 'create') entry.reason = 'the device holds no policy';
      if (action === 'update') entry.reason = `the device holds a policy other than '${policy}'`;
    }
    counts[entry.action] += 1;
    entries.push(entry);
  }
  if (options.reportOrphans ?? true) {
    for (const { deviceId, document } of observed.values()) {
      if (planned.has(deviceId) || document === null) continue;
      counts.orphan += 1;
      entries.push({
        deviceId,
        action: 'orphan',
        reason:
          'the hub holds a policy for this device but the inventory has no row for it (reported, never deleted)',
      });
    }
  }
  return { entries, counts };
}

/** Whether applying the plan would write anything. */
export function hasPendingChanges(counts: PlanCounts): boolean {
  return counts.create + counts.update > 0;
}
