/**
 * The parent's record of failed devices, kept small enough for Temporal's 2 MB payload limit whatever the
 * fleet size.
 *
 * A failure message is up to 300 characters and usually differs from device to device only by the device id
 * ("404 DeviceNotFound … of device 'x' …"). A sync of 12,000 stale inventory rows was terminated by the
 * server at continue-as-new after 6,510 failures ("Input exceeds size limit": over 2 MB of failures).
 * Here a message is stored once per cause, with the device id taken out; each failed device is a tuple of
 * its id, its cause and its attempts, about 30 bytes. Messages are rebuilt exactly on the way out.
 *
 * What leaves the workflow (the run summary, the `failures` query) is bounded too: every failed device is
 * listed, with its full message while the listing is under FULL_MESSAGES_BUDGET bytes and, past that, with
 * a short reference to the entry (1-based) that lists the same cause with its message; past LISTING_BUDGET
 * bytes, one last entry
 * says how many more failed, by code. Pure and deterministic: safe in workflow code.
 */
import type { DeviceFailure } from './types';

/** A message, the device id taken out where it occurred. */
export interface FailureCause {
  code: string;
  /** The message with each occurrence of the device id replaced by DEVICE_ID_PLACEHOLDER, when perDevice. */
  template: string;
  perDevice: boolean;
}

/** [deviceId, index into causes, attempts] */
export type FailedDevice = [deviceId: string, cause: number, attempts: number];

/** What continue-as-new carries. */
export interface FailureLedgerState {
  causes: FailureCause[];
  devices: FailedDevice[];
}

const DEVICE_ID_PLACEHOLDER = '\u241f';
/** Bytes of listing after which failures carry a reference instead of their own message. */
export const FULL_MESSAGES_BUDGET = 256 * 1024;
/** Bytes of listing after which failed devices are counted, not listed. */
export const LISTING_BUDGET = 1_536 * 1024;
/** deviceId of the entry that counts the failures not listed. */
export const NOT_LISTED_DEVICE_ID = '*';
export const NOT_LISTED_CODE = 'NotListed';

export class FailureLedger {
  private readonly causes: FailureCause[];
  private devices: FailedDevice[];
  private readonly causeIndex = new Map<string, number>();

  constructor(state: FailureLedgerState = { causes: [], devices: [] }) {
    this.causes = state.causes.map((cause) => ({ ...cause }));
    this.devices = state.devices.map(([deviceId, cause, attempts]) => [deviceId, cause, attempts]);
    this.causes.forEach((cause, index) => this.causeIndex.set(causeKey(cause), index));
  }

  /** A ledger from the failure list of runs that carried one (before this ledger existed). */
  static fromFailures(failures: readonly DeviceFailure[]): FailureLedger {
    const ledger = new FailureLedger();
    for (const failure of failures) ledger.add(failure);
    return ledger;
  }

  get size(): number {
    return this.devices.length;
  }

  add(failure: DeviceFailure): void {
    const cause = causeOf(failure);
    const key = causeKey(cause);
    let index = this.causeIndex.get(key);
    if (index === undefined) {
      index = this.causes.push(cause) - 1;
      this.causeIndex.set(key, index);
    }
    this.devices.push([failure.deviceId, index, failure.attempts]);
  }

  deviceIds(): string[] {
    return this.devices.map(([deviceId]) => deviceId);
  }

  countWithCode(code: string): number {
    return this.devices.filter(([, cause]) => this.causes[cause]!.code === code).length;
  }

  /** Takes the devices off the books; returns how many were there. Causes stay (they are few). */
  remove(deviceIds: ReadonlySet<string>): number {
    const before = this.devices.length;
    this.devices = this.devices.filter(([deviceId]) => !deviceIds.has(deviceId));
    return before - this.devices.length;
  }

  clear(): number {
    const count = this.devices.length;
    this.devices = [];
    return count;
  }

  state(): FailureLedgerState {
    return {
      causes: this.causes.map((cause) => ({ ...cause })),
      devices: this.devices.map(([deviceId, cause, attempts]) => [deviceId, cause, attempts]),
    };
  }

  /** The `failures` query's list, within the budgets above. */
  list(): DeviceFailure[] {
    const listed: DeviceFailure[] = [];
    /** Where (1-based) each cause was listed with its message. */
    const firstOfCause = new Map<number, number>();
    const unlisted = new Map<string, number>();
    let bytes = 2;
    for (const [deviceId, index, attempts] of this.devices) {
      const cause = this.causes[index]!;
      if (bytes > LISTING_BUDGET) {
        unlisted.set(cause.code, (unlisted.get(cause.code) ?? 0) + 1);
        continue;
      }
      const first = firstOfCause.get(index);
      const message =
        first === undefined || bytes < FULL_MESSAGES_BUDGET
          ? messageOf(cause, deviceId)
          : `same cause as entry ${first}`;
      if (first === undefined) firstOfCause.set(index, listed.length + 1);
      const failure = { deviceId, code: cause.code, message, attempts };
      listed.push(failure);
      bytes += jsonSize(failure);
    }
    if (unlisted.size > 0) {
      const total = [...unlisted.values()].reduce((sum, n) => sum + n, 0);
      const byCode = [...unlisted.entries()].map(([code, n]) => `${code} ${n}`).join(', ');
      listed.push({
        deviceId: NOT_LISTED_DEVICE_ID,
        code: NOT_LISTED_CODE,
        message:
          `${total} more failed devices not listed (${byCode}), to keep the result under Temporal's payload ` +
          `limit; while the sync runs, rerun --failed-only covers them too; after it, run the inventory again`,
        attempts: 0,
      });
    }
    return listed;
  }
}

function causeOf(failure: DeviceFailure): FailureCause {
  const { deviceId, code, message } = failure;
  // A message holding the placeholder itself could not be rebuilt: it is kept whole (a cause of its own).
  const perDevice = deviceId !== '' && message.includes(deviceId) && !message.includes(DEVICE_ID_PLACEHOLDER);
  return {
    code,
    template: perDevice ? message.split(deviceId).join(DEVICE_ID_PLACEHOLDER) : message,
    perDevice,
  };
}

function causeKey(cause: FailureCause): string {
  return JSON.stringify([cause.code, cause.perDevice, cause.template]);
}

function messageOf(cause: FailureCause, deviceId: string): string {
  return cause.perDevice ? cause.template.split(DEVICE_ID_PLACEHOLDER).join(deviceId) : cause.template;
}

/** Bytes of the failure in a JSON array (UTF-16 length: close enough for a budget). */
function jsonSize(failure: DeviceFailure): number {
  return JSON.stringify(failure).length + 1;
}

/** The entries of a failure list that name a device (all but the one counting those not listed). */
export function listedDevices<T extends { deviceId: string; code: string }>(failed: readonly T[]): T[] {
  return failed.filter((f) => !(f.deviceId === NOT_LISTED_DEVICE_ID && f.code === NOT_LISTED_CODE));
}

/** How many devices a finished sync failed, listed or not. */
export function failedDeviceCount(summary: {
  devicesTotal: number;
  succeeded: number;
  unchanged: number;
}): number {
  return summary.devicesTotal - summary.succeeded - summary.unchanged;
}
