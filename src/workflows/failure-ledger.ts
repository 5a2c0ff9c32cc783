/**
 * The parent's record of failed devices, kept small enough for Temporal's 2 MB payload limit whatever the
 * fleet size.
 *
 * A failure message is up to 300 characters and usually differs from device to device only by the device id
 * ("404 DeviceNotFound … of device 'x' …"). A sync of 12,000 stale inventory rows was terminated by the
 * server at continue-as-new after 6,510 failures ("Input exceeds size limit": over 2 MB of failures).
 * Here a message is stored once per cause, with the device id taken out; each failed device is a tuple of
 * its id, its cause and its attempts (30 bytes with 20-character ids). Messages are rebuilt exactly on the way
 * out, but for the fragment of an id where sanitizeMessage cut a message at 300 characters.
 *
 * What leaves the workflow (the run summary, the `failures` query) is bounded too: every failed device is
 * listed, with its full message while the listing is under FULL_MESSAGES_BUDGET bytes and, past that, with
 * a short reference to the entry (1-based) that lists the same cause with its message; past LISTING_BUDGET
 * bytes, one last entry says how many more failed, by code. Pure and deterministic: safe in workflow code.
 */
import { RunFailureCode, type DeviceFailure, type FailureCode } from '../domain/failure-codes';

/** A message, the device id taken out where it occurred. */
export interface FailureCause {
  code: FailureCode;
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
/** Bytes a whole run summary may take (Temporal refuses payloads over 2 MB): failures get what the rest leaves. */
export const SUMMARY_BUDGET = 1_792 * 1024;
/** deviceId of the entry that counts the failures not listed. */
export const NOT_LISTED_DEVICE_ID = '*';
export const NOT_LISTED_CODE: FailureCode = RunFailureCode.NotListed;

export class FailureLedger {
  private causes: FailureCause[];
  private devices: FailedDevice[];
  private readonly causeIndex = new Map<string, number>();

  constructor(state: FailureLedgerState = { causes: [], devices: [] }) {
    this.causes = state.causes.map((cause) => ({ ...cause }));
    this.devices = state.devices.map(([deviceId, cause, attempts]) => [deviceId, cause, attempts]);
    this.indexCauses();
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

  countWithCode(code: FailureCode): number {
    return this.devices.filter(([, cause]) => this.causes[cause]!.code === code).length;
  }

  /** Takes the devices off the books (and causes no device has any more); returns how many were there. */
  remove(deviceIds: ReadonlySet<string>): number {
    const before = this.devices.length;
    this.devices = this.devices.filter(([deviceId]) => !deviceIds.has(deviceId));
    this.dropUnusedCauses();
    return before - this.devices.length;
  }

  clear(): number {
    const count = this.devices.length;
    this.devices = [];
    this.dropUnusedCauses();
    return count;
  }

  state(): FailureLedgerState {
    return {
      causes: this.causes.map((cause) => ({ ...cause })),
      devices: this.devices.map(([deviceId, cause, attempts]) => [deviceId, cause, attempts]),
    };
  }

  /**
   * Every failed device, within the budgets above; `listingBudget` lowered by what else shares the payload
   * (the summary's rejections and alerts).
   */
  list(listingBudget = LISTING_BUDGET): DeviceFailure[] {
    const listed: DeviceFailure[] = [];
    /** Where (1-based) each cause was listed with its message. */
    const firstOfCause = new Map<number, number>();
    const unlisted = new Map<string, number>();
    let bytes = 2;
    for (const [deviceId, index, attempts] of this.devices) {
      const cause = this.causes[index]!;
      if (bytes > listingBudget) {
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

  private indexCauses(): void {
    this.causeIndex.clear();
    this.causes.forEach((cause, index) => this.causeIndex.set(causeKey(cause), index));
  }

  private dropUnusedCauses(): void {
    const used = [...new Set(this.devices.map(([, cause]) => cause))].sort((a, b) => a - b);
    if (used.length === this.causes.length) return;
    const renumbered = new Map(used.map((old, index) => [old, index]));
    this.causes = used.map((old) => this.causes[old]!);
    this.devices = this.devices.map(([deviceId, cause, attempts]) => [
      deviceId,
      renumbered.get(cause)!,
      attempts,
    ]);
    this.indexCauses();
  }
}

/** How sanitizeMessage marks a message it cut. */
const CUT_MARK = '…';

function causeOf(failure: DeviceFailure): FailureCause {
  const { deviceId, code } = failure;
  let message = failure.message;
  // A message holding the placeholder itself could not be rebuilt: it is kept whole (a cause of its own).
  const perDevice = deviceId !== '' && message.includes(deviceId) && !message.includes(DEVICE_ID_PLACEHOLDER);
  if (perDevice && message.endsWith(CUT_MARK)) {
    // Cut (at 300 characters) inside an occurrence of the id: that fragment differs from device to device
    // and would make every device a cause of its own. It says nothing the rest does not: it is dropped.
    const kept = message.slice(0, -CUT_MARK.length);
    for (let length = Math.min(deviceId.length - 1, kept.length); length > 0; length--) {
      if (kept.endsWith(deviceId.slice(0, length))) {
        message = `${kept.slice(0, -length)}${CUT_MARK}`;
        break;
      }
    }
  }
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

/** Bytes of the failure in a JSON array. */
function jsonSize(failure: DeviceFailure): number {
  return utf8Length(JSON.stringify(failure)) + 1;
}

/** UTF-8 length of a string (no TextEncoder needed: workflow-safe). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
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
