/**
 * The devices a sync still has to batch: inventory offsets not read yet (ranges), devices read but not batched
 * (the buffer, at most a page and a batch), and devices queued by reruns (batched first). What continue-as-new
 * carries of it is a few ranges and the queue, whatever the fleet size. Pure; sandbox-safe.
 */
import type { DeviceAssignment } from '../domain/inventory';
import { complementRanges, nextPage, offsetsToRanges, rangesSize } from './inventory-ranges';
import type { InventoryRange } from './types';

/** A page of the inventory to read next, and the ranges left after it. */
export interface InventoryPage {
  offset: number;
  limit: number;
  rest: InventoryRange[];
}

/**
 * What a bulk observation said of a device it found not in sync (see addObservedPage): it holds another
 * document, it holds none (`absent`, arm: a create), or the hub does not have it.
 */
export type ObservedVerdict = 'drifted' | 'absent' | 'notInHub';

interface BufferedDevice {
  offset: number;
  device: DeviceAssignment;
  /** Set when a bulk observation judged the device; absent when its write will read it on its own. */
  verdict?: ObservedVerdict;
}

/** A batch, with what the bulk observation said of its devices (none for devices it did not judge). */
export interface JudgedBatch {
  devices: DeviceAssignment[];
  verdicts: ReadonlyMap<string, ObservedVerdict>;
}

/** What continue-as-new carries of the backlog (see CarriedState). */
export interface CarriedBacklog {
  nextOffset: number;
  inventoryRanges: InventoryRange[];
  queued: DeviceAssignment[];
}

export class DeviceBacklog {
  private ranges: InventoryRange[];
  private buffer: BufferedDevice[] = [];
  private queued: DeviceAssignment[];
  private readonly queuedIds: Set<string>;

  constructor(ranges: readonly InventoryRange[] = [], queued: readonly DeviceAssignment[] = []) {
    this.ranges = ranges.filter((range) => range.to > range.from);
    this.queued = [...queued];
    this.queuedIds = new Set(this.queued.map((device) => device.deviceId));
  }

  /** The whole inventory of a snapshot just loaded. */
  static ofInventory(deviceCount: number): DeviceBacklog {
    return new DeviceBacklog(deviceCount > 0 ? [{ from: 0, to: deviceCount }] : []);
  }

  hasPending(): boolean {
    return this.queued.length > 0 || this.buffer.length > 0 || this.ranges.length > 0;
  }

  /** Whether a batch of `batchSize` cannot be filled without reading the inventory, and there is more to read. */
  needsPage(batchSize: number): boolean {
    return this.queued.length + this.buffer.length < batchSize && this.ranges.length > 0;
  }

  /** The next page to read, at most `pageSize` devices; undefined when every range is read. */
  nextPage(pageSize: number): InventoryPage | undefined {
    return nextPage(this.ranges, pageSize);
  }

  /** The devices read for `page` (as many as its limit), buffered in offset order. */
  addPage(page: InventoryPage, devices: readonly DeviceAssignment[]): void {
    this.ranges = page.rest;
    devices.forEach((device, i) => this.buffer.push({ offset: page.offset + i, device }));
  }

  /**
   * The devices of a page that a bulk observation found not in sync, each at its inventory offset (the page's
   * other devices were in sync: they are taken, not buffered). `observed` false: nobody judged them.
   */
  addObservedPage(
    page: InventoryPage,
    result: {
      devices: readonly DeviceAssignment[];
      offsets: readonly number[];
      notInHub: readonly string[];
      absent?: readonly string[];
    },
    observed: boolean,
  ): void {
    this.ranges = page.rest;
    const notInHub = new Set(result.notInHub);
    const absent = new Set(result.absent ?? []);
    result.devices.forEach((device, i) => {
      const item: BufferedDevice = { offset: result.offsets[i] ?? page.offset + i, device };
      if (observed)
        item.verdict = notInHub.has(device.deviceId)
          ? 'notInHub'
          : absent.has(device.deviceId)
            ? 'absent'
            : 'drifted';
      this.buffer.push(item);
    });
  }

  /** Up to batchSize devices, reruns first; never the same device twice in one batch. */
  takeBatch(batchSize: number): DeviceAssignment[] {
    return this.takeJudgedBatch(batchSize).devices;
  }

  /** takeBatch, with the bulk observation's verdicts of the devices it judged. */
  takeJudgedBatch(batchSize: number): JudgedBatch {
    const verdicts = new Map<string, ObservedVerdict>();
    const batch: DeviceAssignment[] = [];
    const ids = new Set<string>();
    const fits = (device: DeviceAssignment) => batch.length < batchSize && !ids.has(device.deviceId);
    const keep = (device: DeviceAssignment) => {
      batch.push(device);
      ids.add(device.deviceId);
    };
    const queued: DeviceAssignment[] = [];
    for (const device of this.queued) {
      if (fits(device)) {
        keep(device);
        this.queuedIds.delete(device.deviceId);
      } else queued.push(device);
    }
    this.queued = queued;
    const buffer: BufferedDevice[] = [];
    for (const item of this.buffer) {
      if (fits(item.device)) {
        keep(item.device);
        if (item.verdict) verdicts.set(item.device.deviceId, item.verdict);
      } else buffer.push(item);
    }
    this.buffer = buffer;
    return { devices: batch, verdicts };
  }

  /** Queues a device for the next batches; false when it is queued already. */
  enqueue(device: DeviceAssignment): boolean {
    if (this.queuedIds.has(device.deviceId)) return false;
    this.queuedIds.add(device.deviceId);
    this.queued.push(device);
    return true;
  }

  /** Takes every queued and buffered device off the backlog (the ranges stay: read them with nextPage). */
  takeReadDevices(): DeviceAssignment[] {
    const devices = [...this.queued.splice(0), ...this.buffer.splice(0).map((item) => item.device)];
    this.queuedIds.clear();
    return devices;
  }

  /** `rerun {}`: every inventory offset already taken (batched) goes back on the backlog; returns how many. */
  readdTaken(deviceCount: number): number {
    const taken = complementRanges(this.pendingRanges(), deviceCount);
    this.ranges = [...this.ranges, ...taken];
    return rangesSize(taken);
  }

  carried(deviceCount: number): CarriedBacklog {
    const pending = this.pendingRanges();
    return { nextOffset: pending[0]?.from ?? deviceCount, inventoryRanges: pending, queued: this.queued };
  }

  /** Offsets not batched yet: the buffered ones first, then the unread ranges. */
  private pendingRanges(): InventoryRange[] {
    return [...offsetsToRanges(this.buffer.map((item) => item.offset)), ...this.ranges];
  }
}
