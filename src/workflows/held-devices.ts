/**
 * The devices of one batch that its local first attempts left held at the hub's authorization gate (most calls
 * refused while a grant settles), written together: once every local attempt of the batch has settled, one
 * applySecurityPolicies activity takes them all. The gate releases them together when the refusals end, and
 * one activity's completion is one round trip through Temporal where one activity per device was 50. Workflow
 * code: which devices go together depends only on the local attempts' results, so replay sends the same group.
 */
import { isCancellation, log } from '@temporalio/workflow';
import type { ApplyPoliciesResult, GroupedDevice, GroupedDeviceResult } from '../domain/activity-contract';

interface Held {
  device: GroupedDevice;
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
   * A device held at the gate. Resolves with what became of it in the group, or undefined when the group's
   * activity failed as a whole (the device then goes to its own durable activity, as before).
   */
  hold(device: GroupedDevice): Promise<GroupedDeviceResult | undefined> {
    return new Promise((resolve, reject) => this.held.push({ device, resolve, reject }));
  }

  /** One local first attempt settled, held or not: after the last one, the held devices go. */
  settled(): void {
    this.unsettled -= 1;
    if (this.unsettled > 0 || this.held.length === 0) return;
    const group = this.held;
    this.held = [];
    this.writeTogether(group.map((entry) => entry.device)).then(
      (result) => {
        const byId = new Map(result.devices.map((device) => [device.deviceId, device]));
        for (const entry of group) entry.resolve(byId.get(entry.device.deviceId));
      },
      (error: unknown) => {
        if (isCancellation(error)) {
          for (const entry of group) entry.reject(error);
          return;
        }
        log.warn('The held devices could not be written together; each goes to its own activity', {
          devices: group.length,
          error: error instanceof Error ? error.message : String(error),
        });
        for (const entry of group) entry.resolve(undefined);
      },
    );
  }
}
