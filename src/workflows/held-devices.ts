/**
 * The devices of one batch that its local first attempts left held at the hub's authorization gate (most calls
 * refused while a grant settles), written together: once every local attempt of the batch has settled, one
 * applySecurityPolicies activity takes them all. The gate releases them together when the refusals end, and
 * one activity's completion is one round trip through Temporal where one activity per device was 50. Workflow
 * code: which devices go together, and in which order, depends only on the local attempts' results and the
 * devices' places in the batch, so replay sends the same group.
 */
import {
  ActivityFailure,
  CancellationScope,
  isCancellation,
  log,
  TimeoutFailure,
} from '@temporalio/workflow';
import type {
  ApplyPoliciesResult,
  ApplyPolicyResult,
  AttemptCounters,
  GroupedDevice,
  GroupedDeviceResult,
} from '../domain/activity-contract';

interface Held {
  device: GroupedDevice;
  /** The device's place in the batch. */
  index: number;
  resolve(result: GroupedDeviceResult | undefined): void;
  reject(reason: unknown): void;
}

export class HeldDevices {
  private held: Held[] = [];

  /**
   * @param unsettled the local first attempts still running (the batch's devices)
   * @param writeTogether starts the applySecurityPolicies activity for the held devices
   */
  constructor(
    private unsettled: number,
    private readonly writeTogether: (devices: GroupedDevice[]) => Promise<ApplyPoliciesResult>,
  ) {}

  /**
   * A device held at the gate (`index`: its place in the batch). Resolves with what became of it in the group,
   * or undefined when the group failed as a whole and told nothing of it (the device then goes to its own
   * durable activity, from its local attempt's counters).
   */
  hold(device: GroupedDevice, index: number): Promise<GroupedDeviceResult | undefined> {
    return new Promise((resolve, reject) => this.held.push({ device, index, resolve, reject }));
  }

  /** One local first attempt settled, held or not: after the last one, the held devices go. */
  settled(): void {
    this.unsettled -= 1;
    if (this.unsettled > 0 || this.held.length === 0) return;
    const group = this.held.sort((a, b) => a.index - b.index);
    this.held = [];
    this.writeTogether(group.map((entry) => entry.device)).then(
      (result) => {
        const byId = new Map<string, GroupedDeviceResult>();
        for (const device of Array.isArray(result?.devices) ? result.devices : [])
          byId.set(device.deviceId, device);
        for (const entry of group) entry.resolve(byId.get(entry.device.deviceId));
      },
      (error: unknown) => {
        if (isCancellation(error) && CancellationScope.current().consideredCancelled) {
          for (const entry of group) entry.reject(error);
          return;
        }
        const progress = lostGroupProgress(error);
        log.warn('The held devices could not be written together; each goes on from what the group did', {
          devices: group.length,
          written: Object.keys(progress.written).length,
          error: error instanceof Error ? error.message : String(error),
        });
        for (const entry of group) entry.resolve(resultFromProgress(entry.device.deviceId, progress));
      },
    );
  }
}

interface LostGroupProgress {
  devices: Record<string, AttemptCounters>;
  written: Record<string, ApplyPolicyResult>;
}

/** What a group that timed out (its worker gone) had reported in its last heartbeat; nothing otherwise. */
export function lostGroupProgress(error: unknown): LostGroupProgress {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  const raw: unknown = cause instanceof TimeoutFailure ? cause.lastHeartbeatDetails : undefined;
  const details: unknown = Array.isArray(raw) ? raw[0] : raw;
  const progress: LostGroupProgress = { devices: {}, written: {} };
  if (typeof details !== 'object' || details === null) return progress;
  const record = details as Record<string, unknown>;
  for (const [deviceId, value] of entriesOf(record.devices)) {
    const counters = countersOf(value);
    if (counters) progress.devices[deviceId] = counters;
  }
  for (const [deviceId, value] of entriesOf(record.written)) {
    const counters = countersOf(value);
    const status = (value as { status?: unknown }).status;
    if (counters && (status === 'succeeded' || status === 'unchanged'))
      progress.written[deviceId] = { status, ...counters };
  }
  return progress;
}

/**
 * A device of a lost group: written, if the group said so; else handed on from its last failed try (which may
 * have been followed by one the heartbeat did not tell: `unsure`, so the next try reads first); else undefined.
 */
function resultFromProgress(deviceId: string, progress: LostGroupProgress): GroupedDeviceResult | undefined {
  const written = progress.written[deviceId];
  if (written) return { deviceId, written };
  const last = progress.devices[deviceId];
  if (!last) return undefined;
  return { deviceId, handOn: { prior: { ...last, unsure: (last.unsure ?? 0) + 1 }, delayInMs: 0 } };
}

function entriesOf(value: unknown): [string, unknown][] {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value) : [];
}

function countersOf(value: unknown): AttemptCounters | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const count = (field: unknown) =>
    typeof field === 'number' && Number.isInteger(field) && field >= 0 ? field : undefined;
  const attempts = count(record.attempts);
  const authErrors = count(record.authErrors);
  const throttled = count(record.throttled);
  if (attempts === undefined || authErrors === undefined || throttled === undefined) return undefined;
  const unsure = count(record.unsure);
  return { attempts, authErrors, throttled, ...(unsure ? { unsure } : {}) };
}
