/**
 * Loading a whole inventory (devices + policies) into a snapshot identified by a content hash, and the
 * per-worker store that serves pages, lookups and policy documents by snapshot id, re-loading on a cache
 * miss (another worker loaded it) and refusing with InventoryChanged when the content moved on.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceAssignment, Rejection } from '../domain/inventory';
import { InventoryBuilder } from './builder';
import { readDevicesFile, type RawDeviceRow } from './devices-file';
import { InventoryError } from './errors';
import { loadPoliciesFile, type PolicyDocument } from './policies';

export interface LoadedInventory {
  /** Content hash of devices and policies. */
  id: string;
  devices: DeviceAssignment[];
  policies: ReadonlyMap<string, PolicyDocument>;
  /** Every rejected row, in order. */
  rejected: Rejection[];
}

export interface InventorySourceOptions {
  source: 'file' | 'hub';
  devicesFile?: string;
  policiesFile?: string;
  /** Rows of the hub's device query (INVENTORY_SOURCE=hub); see queryHubDevices. */
  hubDevices?: (abortSignal?: AbortSignal) => AsyncIterable<RawDeviceRow>;
}

const ID_PREFIX = 'inv-';

/** Reads and validates the inventory. Throws InventoryError for a source unusable as a whole. */
export async function loadInventory(
  options: InventorySourceOptions,
  abortSignal?: AbortSignal,
): Promise<LoadedInventory> {
  if (!options.policiesFile) {
    throw new InventoryError(
      'InvalidInventoryFile',
      'POLICIES_FILE is not set: it holds the policy documents devices name',
    );
  }
  const policies = await loadPoliciesFile(options.policiesFile);
  const hash = createHash('sha256');
  hash.update(`inventory/v1\0${options.source}\0policies\0`);
  hash.update(policies.raw);
  hash.update('\0devices\0');
  const rejected: Rejection[] = [...policies.rejected];
  const hub = options.source === 'hub';
  const builder = new InventoryBuilder({
    policies: policies.documents,
    rejectedPolicies: policies.rejectedNames,
    policiesSource: `POLICIES_FILE ${options.policiesFile}`,
    ...(hub ? { policyField: 'tags.securityPolicy' } : {}),
  });
  if (hub) {
    if (!options.hubDevices) throw new Error('INVENTORY_SOURCE=hub needs a hub device query');
    for await (const row of options.hubDevices(abortSignal)) {
      hash.update(JSON.stringify([row.deviceId ?? null, row.policy ?? null]));
      hash.update('\n');
      builder.add(row, 'hub');
    }
  } else {
    if (!options.devicesFile) {
      throw new InventoryError('InvalidInventoryFile', 'DEVICES_FILE is not set (INVENTORY_SOURCE=file)');
    }
    for await (const row of readDevicesFile(options.devicesFile, hash)) {
      abortSignal?.throwIfAborted();
      builder.add(row, options.devicesFile);
    }
  }
  if (builder.devices.length === 0 && builder.rejected.length > 0) {
    // Every row refused: a sync of nothing would look like success to a script reading the exit code.
    const source = hub
      ? 'the hub device query (INVENTORY_SOURCE=hub)'
      : `DEVICES_FILE ${options.devicesFile}`;
    const reasons = builder.rejected.map((rejection) => `row ${rejection.row}: ${rejection.reason}`);
    throw new InventoryError(
      'InvalidInventoryFile',
      `${source}: none of its ${builder.rejected.length} device rows can be synced (${firstReasons(reasons)}); ${
        builder.rejected.every((rejection) => rejection.reason.includes('POLICIES_FILE'))
          ? `every row names a policy POLICIES_FILE ${options.policiesFile} does not provide: fix that file or the rows`
          : 'fix the rows'
      } and run again`,
      hub ? undefined : options.devicesFile,
    );
  }
  rejected.push(...builder.rejected);
  return {
    id: `${ID_PREFIX}${hash.digest('hex').slice(0, 40)}`,
    devices: builder.devices,
    policies: policies.documents,
    rejected,
  };
}

/** The first three reasons, and how many more there are: for an error about every row. */
function firstReasons(reasons: readonly string[]): string {
  const more = reasons.length > 3 ? `; and ${reasons.length - 3} more` : '';
  return `${reasons.slice(0, 3).join('; ')}${more}`;
}

/** A snapshot as the store serves it: the loaded inventory, possibly narrowed to a selection. */
export interface InventorySnapshotData {
  id: string;
  base: LoadedInventory;
  devices: DeviceAssignment[];
  /** Position of each device in `devices`. */
  index: ReadonlyMap<string, number>;
}

export interface InventoryStoreOptions extends InventorySourceOptions {
  /** Snapshots kept in memory. @default 4 */
  maxCachedSnapshots?: number;
  /**
   * Where selections (`run --devices`) are written so that another worker process on this machine can
   * rebuild a narrowed snapshot. @default {os.tmpdir()}/iot-policy-sync/selections
   */
  selectionDir?: string;
}

export interface LoadSnapshotResult {
  snapshot: InventorySnapshotData;
  /** Every rejection: policy file, device rows, then ids of the selection not in the inventory (source `--devices`). */
  rejected: Rejection[];
}

function selectionHash(deviceIds: string[]): string {
  return createHash('sha256').update(JSON.stringify(deviceIds)).digest('hex').slice(0, 24);
}

function indexOf(devices: DeviceAssignment[]): Map<string, number> {
  return new Map(devices.map((d, i) => [d.deviceId, i]));
}

/** One per worker: the inventory snapshots its activities page through. */
export class InventoryStore {
  private readonly cache = new Map<string, InventorySnapshotData>();
  private readonly loading = new Map<string, Promise<LoadedInventory>>();
  private readonly selectionDir: string;

  constructor(private readonly options: InventoryStoreOptions) {
    this.selectionDir = options.selectionDir ?? join(tmpdir(), 'iot-policy-sync', 'selections');
  }

  /** Loads the source now and caches the snapshot; narrowed to `deviceIds` when given. */
  async load(deviceIds?: string[], abortSignal?: AbortSignal): Promise<LoadSnapshotResult> {
    const base = await loadInventory(this.options, abortSignal);
    this.remember(this.whole(base));
    if (deviceIds === undefined) return { snapshot: this.whole(base), rejected: base.rejected };

    const rejected = [...base.rejected];
    const index = indexOf(base.devices);
    const selected: string[] = [];
    const seen = new Set<string>();
    deviceIds.forEach((deviceId, i) => {
      if (seen.has(deviceId)) return;
      seen.add(deviceId);
      if (index.has(deviceId)) selected.push(deviceId);
      else {
        const why = base.rejected.some((r) => r.reason.includes(`'${deviceId}'`))
          ? 'its inventory row was rejected'
          : 'it is not in the inventory';
        rejected.push({
          source: '--devices',
          row: i + 1,
          reason: `deviceId '${deviceId}' cannot be synced: ${why}`,
        });
      }
    });
    if (selected.length === 0 && seen.size > 0) {
      // Like an inventory whose every row is refused: a sync of none of the devices asked for is no success.
      const reasons = rejected.filter((r) => r.source === '--devices').map((r) => r.reason);
      throw new InventoryError(
        'NothingSelected',
        `--devices: none of the ${seen.size} device ids given can be synced (${firstReasons(reasons)}); ` +
          'check them against the inventory',
      );
    }
    const snapshot = this.narrow(base, selected);
    await this.saveSelection(snapshot.id, selected);
    this.remember(snapshot);
    return { snapshot, rejected };
  }

  /** The snapshot with this id, from memory or re-loaded; InventoryError InventoryChanged when the source moved on. */
  async get(snapshotId: string, abortSignal?: AbortSignal): Promise<InventorySnapshotData> {
    const cached = this.cache.get(snapshotId);
    if (cached) {
      this.cache.delete(snapshotId);
      this.cache.set(snapshotId, cached);
      return cached;
    }
    const [baseId, selection] = snapshotId.split('.sel-');
    if (!baseId?.startsWith(ID_PREFIX)) {
      throw new InventoryError('InventoryChanged', `'${snapshotId}' is not an inventory snapshot id`);
    }
    let base = this.cache.get(baseId)?.base;
    if (!base) {
      abortSignal?.throwIfAborted();
      base = await this.reload();
      abortSignal?.throwIfAborted();
      this.remember(this.whole(base));
      if (base.id !== baseId) {
        throw new InventoryError(
          'InventoryChanged',
          `The inventory changed since this sync loaded it (snapshot ${baseId}, now ${base.id}): ` +
            `DEVICES_FILE, POLICIES_FILE or the hub's devices were modified. Start a new sync.`,
          this.options.devicesFile,
        );
      }
    }
    if (selection === undefined) return this.whole(base);
    const deviceIds = await this.readSelection(snapshotId);
    const snapshot = this.narrow(base, deviceIds);
    this.remember(snapshot);
    return snapshot;
  }

  async readPage(
    snapshotId: string,
    offset: number,
    limit: number,
    abortSignal?: AbortSignal,
  ): Promise<DeviceAssignment[]> {
    const snapshot = await this.get(snapshotId, abortSignal);
    return snapshot.devices.slice(Math.max(0, offset), Math.max(0, offset) + Math.max(0, limit));
  }

  async findDevices(
    snapshotId: string,
    deviceIds: string[],
    abortSignal?: AbortSignal,
  ): Promise<{ devices: DeviceAssignment[]; unknown: string[] }> {
    const snapshot = await this.get(snapshotId, abortSignal);
    const devices: DeviceAssignment[] = [];
    const unknown: string[] = [];
    for (const deviceId of new Set(deviceIds)) {
      const at = snapshot.index.get(deviceId);
      const device = at === undefined ? undefined : snapshot.devices[at];
      if (device) devices.push(device);
      else unknown.push(deviceId);
    }
    return { devices, unknown };
  }

  /** The document of a policy of the snapshot; InventoryError PolicyNotFound when it has none by that name. */
  async policyDocument(
    snapshotId: string,
    policy: string,
    abortSignal?: AbortSignal,
  ): Promise<PolicyDocument> {
    const snapshot = await this.get(snapshotId, abortSignal);
    const document = snapshot.base.policies.get(policy);
    if (!document) {
      throw new InventoryError(
        'PolicyNotFound',
        `Policy '${policy}' is not in POLICIES_FILE ${this.options.policiesFile ?? ''} (snapshot ${snapshot.base.id}); add it or fix the device's policy name.`,
        this.options.policiesFile,
      );
    }
    return document;
  }

  private reload(): Promise<LoadedInventory> {
    // Concurrent misses (a batch of activities on a fresh worker) share one load.
    let pending = this.loading.get('source');
    if (!pending) {
      pending = loadInventory(this.options).finally(() => this.loading.delete('source'));
      this.loading.set('source', pending);
    }
    return pending;
  }

  private whole(base: LoadedInventory): InventorySnapshotData {
    return (
      this.cache.get(base.id) ?? { id: base.id, base, devices: base.devices, index: indexOf(base.devices) }
    );
  }

  private narrow(base: LoadedInventory, deviceIds: string[]): InventorySnapshotData {
    const baseIndex = indexOf(base.devices);
    const devices = deviceIds
      .map((id) => {
        const at = baseIndex.get(id);
        return at === undefined ? undefined : base.devices[at];
      })
      .filter((d): d is DeviceAssignment => d !== undefined);
    return { id: `${base.id}.sel-${selectionHash(deviceIds)}`, base, devices, index: indexOf(devices) };
  }

  private remember(snapshot: InventorySnapshotData): void {
    this.cache.delete(snapshot.id);
    this.cache.set(snapshot.id, snapshot);
    const max = this.options.maxCachedSnapshots ?? 4;
    while (this.cache.size > max) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  private selectionPath(snapshotId: string): string {
    return join(this.selectionDir, `${snapshotId.replace(/[^\w.-]/g, '_')}.json`);
  }

  private async saveSelection(snapshotId: string, deviceIds: string[]): Promise<void> {
    try {
      await mkdir(this.selectionDir, { recursive: true });
      await writeFile(this.selectionPath(snapshotId), JSON.stringify(deviceIds));
    } catch {
      // Best effort: without it, only this process can page the narrowed snapshot.
    }
  }

  private async readSelection(snapshotId: string): Promise<string[]> {
    try {
      const parsed = JSON.parse(await readFile(this.selectionPath(snapshotId), 'utf8')) as unknown;
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) return parsed;
    } catch {
      // fall through
    }
    throw new InventoryError(
      'InventoryChanged',
      `The device selection of snapshot ${snapshotId} is not known to this worker (it was loaded by a worker on another machine); start the sync again.`,
    );
  }
}
