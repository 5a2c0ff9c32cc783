/**
 * Turns raw rows into device assignments, rejecting (never dropping) what cannot be used: bad device ids,
 * duplicates (the later row), policies the policy file does not have. Pure.
 */
import type { DeviceAssignment, Rejection } from '../domain/inventory';
import { deviceRowSchema, firstProblem } from './device-id';
import type { RawDeviceRow } from './devices-file';

export interface PolicyNames {
  /** Valid policy names. */
  has(name: string): boolean;
}

export interface InventoryBuilderOptions {
  policies: PolicyNames;
  /** Names the policy file rejected, with why. */
  rejectedPolicies?: ReadonlyMap<string, string>;
  /** Where the policies came from, for messages. */
  policiesSource: string;
  /** Field that names the policy in messages. @default 'policy' */
  policyField?: string;
}

export class InventoryBuilder {
  readonly devices: DeviceAssignment[] = [];
  readonly rejected: Rejection[] = [];
  private readonly seen = new Map<string, number>();

  constructor(private readonly options: InventoryBuilderOptions) {}

  add(raw: RawDeviceRow, source: string): void {
    const reject = (reason: string): void => {
      this.rejected.push({
        source,
        row: raw.row,
        reason: raw.line ? `${reason} (line ${raw.line})` : reason,
      });
    };
    if (raw.problem) return reject(raw.problem);
    const parsed = deviceRowSchema.safeParse({ deviceId: raw.deviceId, policy: raw.policy });
    if (!parsed.success) return reject(firstProblem(parsed.error));
    const { deviceId, policy } = parsed.data;
    const earlier = this.seen.get(deviceId);
    if (earlier !== undefined)
      return reject(`deviceId '${deviceId}' duplicates row ${earlier}; the first one is kept`);
    const field = this.options.policyField ?? 'policy';
    if (!this.options.policies.has(policy)) {
      const refused = this.options.rejectedPolicies?.get(policy);
      return reject(
        refused
          ? `${field} '${policy}' of device '${deviceId}' was rejected in ${this.options.policiesSource}: ${refused}`
          : `${field} '${policy}' of device '${deviceId}' is not in ${this.options.policiesSource}`,
      );
    }
    this.seen.set(deviceId, raw.row);
    this.devices.push({ deviceId, policy });
  }
}
