/**
 * Deterministic, in-memory activities for workflow tests: an inventory, a permission check and a policy
 * writer whose behaviour each test scripts per device and attempt.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  ApplyPolicyInput,
  ApplyPolicyResult,
  AssessComplianceInput,
  AssessComplianceResult,
  PolicySyncActivities,
} from '../../src/domain/activity-contract';
import { emptyComplianceCounts } from '../../src/domain/compliance';
import { toApplicationFailure } from '../../src/activities/failures';
import { groupedFailure } from '../../src/activities/device-write';
import type { AttemptCounters, GroupProgress } from '../../src/domain/activity-contract';
import type { FailureType } from '../../src/domain/failure-codes';
import type { AlertRecord, DeviceAssignment, PermissionReport } from '../../src/workflows/types';

export interface ApplyCall {
  deviceId: string;
  /** The device's attempt, counting the local first attempt. */
  attempt: number;
  /** Whether this attempt ran as the local first attempt. */
  local: boolean;
  /** Whether it ran in applySecurityPolicies (the devices the gate held, together). */
  grouped?: boolean;
}

/** Decides what one attempt at one device does: return a result, throw, or wait. */
export type ApplyBehavior = (
  call: ApplyCall,
  fake: FakeAzure,
) => Promise<ApplyPolicyResult> | ApplyPolicyResult;

export function deviceIds(count: number, prefix = 'dev'): string[] {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(width, '0')}`);
}

/** A failure the way the real activity reports it: typed, with AttemptCounters in details[0]. */
export function applyFailure(
  type: FailureType,
  message: string,
  counters: AttemptCounters,
  options: { nonRetryable?: boolean; nextRetryDelayInMs?: number; heldAtGate?: boolean } = {},
): ApplicationFailure {
  // The real activity's failure builder, so the workflow sees the same details (delay included).
  return toApplicationFailure(
    {
      type,
      message,
      nonRetryable: options.nonRetryable ?? false,
      ...(options.nextRetryDelayInMs === undefined ? {} : { nextRetryDelayInMs: options.nextRetryDelayInMs }),
    },
    options.heldAtGate ? { ...counters, heldAtGate: true } : counters,
  );
}

/** A gate a test opens to let held activities finish. */
export class Gate {
  private opened = false;
  private waiters: (() => void)[] = [];
  open(): void {
    this.opened = true;
    this.waiters.splice(0).forEach((resolve) => resolve());
  }
  /** Resolves when opened; inside an activity, rejects when the activity is cancelled (worker shutdown). */
  wait(): Promise<void> {
    if (this.opened) return Promise.resolve();
    const opened = new Promise<void>((resolve) => this.waiters.push(resolve));
    let cancelled: Promise<never> | undefined;
    try {
      cancelled = Context.current().cancelled;
    } catch {
      // not in an activity
    }
    return cancelled ? Promise.race([opened, cancelled]) : opened;
  }
}

export class FakeAzure {
  readonly inventory: DeviceAssignment[];
  readonly snapshotId = 'snapshot-1';
  readonly applyCalls: ApplyCall[] = [];
  /** Devices that hold the policy, and how many successful writes each got. */
  readonly writes = new Map<string, number>();
  readonly alertsSent: AlertRecord[] = [];
  permissionChecks = 0;
  loadCalls = 0;
  /** The permission check's answer for check number n (1-based). @default granted */
  permission: (check: number) => PermissionReport = () => ({
    granted: true,
    missing: [],
    rolesAssigned: ['IoT Policy Writer'],
    grantingRole: 'IoT Policy Writer',
  });
  behavior: ApplyBehavior = ({ deviceId, attempt }, fake) => fake.succeed(deviceId, attempt);
  /**
   * When set, applySecurityPolicies reports this progress in one heartbeat and then stops answering, as a group
   * whose worker died: the workflow sees it time out (heartbeat timeout) with these details.
   */
  loseGroupWith: GroupProgress | undefined;
  readonly assessCalls: AssessComplianceInput[] = [];
  /** The answer to assessment number n (1-based). @default every device that holds the policy applied it */
  compliance: (input: AssessComplianceInput, call: number) => AssessComplianceResult = () => ({
    counts: { ...emptyComplianceCounts(), applied: this.writes.size },
    rejected: [],
    notListed: 0,
    pendingCount: 0,
    notInHub: 0,
    queries: 1,
    observedAt: new Date().toISOString(),
  });
  /**
   * What readDriftedInventoryPage sees: 'bulk' judges a device in sync once it was written; 'unsupported'
   * answers like a hub without the bulk read; 'failing' fails like a read that cannot finish.
   */
  observation: 'bulk' | 'unsupported' | 'failing' = 'bulk';
  readonly observedPageCalls: { offset: number; limit: number; syncId: string }[] = [];

  constructor(ids: string[]) {
    this.inventory = ids.map((deviceId) => ({ deviceId, policy: 'default' }));
  }

  /** Records a successful write: `succeeded` the first time, `unchanged` after. */
  succeed(deviceId: string, attempt: number, extra: Partial<ApplyPolicyResult> = {}): ApplyPolicyResult {
    const previous = this.writes.get(deviceId) ?? 0;
    this.writes.set(deviceId, previous + 1);
    return {
      status: previous > 0 ? 'unchanged' : 'succeeded',
      attempts: attempt,
      authErrors: 0,
      throttled: 0,
      ...extra,
    };
  }

  callsFor(deviceId: string): number {
    return this.applyCalls.filter((call) => call.deviceId === deviceId).length;
  }

  activities(): PolicySyncActivities {
    return {
      checkRolePropagation: async () => this.permission(++this.permissionChecks),
      loadInventory: async ({ deviceIds }) => {
        this.loadCalls += 1;
        const known = new Set(this.inventory.map((device) => device.deviceId));
        const wanted = deviceIds ? new Set(deviceIds) : undefined;
        const devices = wanted
          ? this.inventory.filter((device) => wanted.has(device.deviceId))
          : this.inventory;
        const rejected = (deviceIds ?? [])
          .map((id, i) => ({ id, row: i + 1 }))
          .filter(({ id }) => !known.has(id))
          .map(({ id, row }) => ({
            source: '--devices',
            row,
            reason: `Device ${id} is not in the inventory`,
          }));
        const id = wanted
          ? `${this.snapshotId}:${JSON.stringify(devices.map((d) => d.deviceId))}`
          : this.snapshotId;
        return { snapshot: { id, deviceCount: devices.length }, rejected, rejectedCount: rejected.length };
      },
      readInventoryPage: async ({ snapshotId, offset, limit }) =>
        this.snapshot(snapshotId).slice(offset, offset + limit),
      readDriftedInventoryPage: async ({ snapshotId, offset, limit, syncId }) => {
        this.observedPageCalls.push({ offset, limit, syncId });
        if (this.observation === 'failing')
          throw ApplicationFailure.create({ message: 'the device query keeps failing', type: 'Transient' });
        const devices = this.snapshot(snapshotId).slice(offset, offset + limit);
        const offsets = devices.map((_, i) => offset + i);
        if (this.observation === 'unsupported')
          return { devices, offsets, unchanged: 0, notInHub: [], observation: 'unsupported' };
        const drifted = devices.flatMap((device, i) =>
          this.writes.has(device.deviceId) ? [] : [{ device, offset: offsets[i]! }],
        );
        return {
          devices: drifted.map((d) => d.device),
          offsets: drifted.map((d) => d.offset),
          unchanged: devices.length - drifted.length,
          notInHub: [],
          observation: 'bulk',
        };
      },
      findDevices: async ({ snapshotId, deviceIds }) => {
        const byId = new Map(this.snapshot(snapshotId).map((device) => [device.deviceId, device]));
        return {
          devices: deviceIds.flatMap((id) => byId.get(id) ?? []),
          unknown: deviceIds.filter((id) => !byId.has(id)),
        };
      },
      applySecurityPolicy: async (input: ApplyPolicyInput) => {
        // Like the real activity: attempts continue from the local first attempt (`prior`).
        const { info } = Context.current();
        const call = {
          deviceId: input.deviceId,
          attempt: (input.prior?.attempts ?? 0) + info.attempt,
          local: info.isLocal,
        };
        this.applyCalls.push(call);
        return this.behavior(call, this);
      },
      applySecurityPolicies: async ({ devices }) => {
        const lost = this.loseGroupWith;
        if (lost) {
          for (const { deviceId, prior } of devices)
            this.applyCalls.push({ deviceId, attempt: prior.attempts + 1, local: false, grouped: true });
          const ctx = Context.current();
          ctx.heartbeat(lost);
          await Promise.race([new Promise((resolve) => setTimeout(resolve, 20_000)), ctx.cancelled]);
          throw new Error('the group stopped answering');
        }
        // Like the real activity: each device's try continues from its local first attempt; a failure that a
        // retry may heal is handed back to the batch, a final one is its outcome.
        const results = await Promise.all(
          devices.map(async ({ deviceId, prior }) => {
            const call = { deviceId, attempt: prior.attempts + 1, local: false, grouped: true };
            this.applyCalls.push(call);
            try {
              return { deviceId, written: await this.behavior(call, this) };
            } catch (error) {
              if (!(error instanceof ApplicationFailure)) throw error;
              return groupedFailure(deviceId, error, prior);
            }
          }),
        );
        return { devices: results };
      },
      sendAlert: async ({ alert }) => {
        this.alertsSent.push(alert);
      },
      assessCompliance: async (input) => {
        this.assessCalls.push(input);
        return this.compliance(input, this.assessCalls.length);
      },
    };
  }

  /**
   * The devices of a snapshot, from its id alone — like the real inventory, whose snapshot ids are content
   * hashes — so that a fresh worker (after a restart) reads the same pages.
   */
  private snapshot(snapshotId: string): DeviceAssignment[] {
    if (snapshotId === this.snapshotId) return this.inventory;
    if (!snapshotId.startsWith(`${this.snapshotId}:`))
      throw ApplicationFailure.nonRetryable(`Unknown snapshot ${snapshotId}`, 'InventoryChanged');
    const ids = new Set(JSON.parse(snapshotId.slice(this.snapshotId.length + 1)) as string[]);
    return this.inventory.filter((device) => ids.has(device.deviceId));
  }
}
