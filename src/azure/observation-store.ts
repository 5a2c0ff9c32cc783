/**
 * A worker's observations of fleets, keyed by (hub, target, inventory snapshot): the first question about
 * a key observes the fleet once in bulk (concurrent questions share that one read); later questions are
 * answered from memory. Like InventoryStore, a bounded cache: an evicted key is observed again.
 */
import { comparableObservation, isObservationUnsupportedError, type ObservedDevice } from './observation';
import { policyFingerprint } from './policy-fingerprint';

export interface ObservationKey {
  hub: string;
  target: 'arm' | 'twin';
  /** The inventory snapshot the sync works on. */
  snapshotId: string;
  /**
   * The sync asking. Snapshot ids are content hashes, so two syncs of an unchanged inventory share one: without
   * this, a later sync would be answered from an earlier sync's observation. @default none (keyed by snapshot)
   */
  syncId?: string;
}

export interface ObservationStoreOptions {
  /** The bulk read for a key (observeArmPolicies / observeTwinPolicies bound to the hub). */
  observe(key: ObservationKey, abortSignal?: AbortSignal): AsyncIterable<ObservedDevice>;
  /** Observations kept in memory. @default 4 */
  maxCachedObservations?: number;
}

/** One fleet as observed: each device's observation with its policy's fingerprint, or 'unsupported'. */
export interface FleetObservation {
  key: ObservationKey;
  observedAtInMs: number;
  devices: ReadonlyMap<string, { observed: ObservedDevice; fingerprint: string | null }> | 'unsupported';
}

function keyOf(key: ObservationKey): string {
  return JSON.stringify([key.hub, key.target, key.snapshotId, key.syncId ?? null]);
}

export class ObservationStore {
  private readonly cache = new Map<string, FleetObservation>();
  private readonly loading = new Map<string, Promise<FleetObservation>>();
  private readonly desiredFingerprints = new WeakMap<object, string>();

  constructor(private readonly options: ObservationStoreOptions) {}

  /** The fleet's observation for `key`, observing it now unless it is in memory. Failures are not kept. */
  async get(key: ObservationKey, abortSignal?: AbortSignal): Promise<FleetObservation> {
    const id = keyOf(key);
    const cached = this.cache.get(id);
    if (cached) {
      this.cache.delete(id);
      this.cache.set(id, cached);
      return cached;
    }
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.load(key, abortSignal).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    const observation = await pending;
    this.remember(id, observation);
    return observation;
  }

  /**
   * What the bulk read saw of a device; null when it did not list it (arm: no policy; twin: not in the
   * hub); undefined when the hub offers no bulk read (ask the device itself).
   */
  async observed(
    key: ObservationKey,
    deviceId: string,
    abortSignal?: AbortSignal,
  ): Promise<ObservedDevice | null | undefined> {
    const { devices } = await this.get(key, abortSignal);
    if (devices === 'unsupported') return undefined;
    return devices.get(deviceId)?.observed ?? null;
  }

  /**
   * Whether the device held exactly `desired` when observed (fingerprints of canonical JSON); false for a
   * device the read did not list or that holds no policy; undefined when the hub offers no bulk read.
   */
  async isInSync(
    key: ObservationKey,
    deviceId: string,
    desired: Record<string, unknown>,
    abortSignal?: AbortSignal,
  ): Promise<boolean | undefined> {
    const { devices } = await this.get(key, abortSignal);
    if (devices === 'unsupported') return undefined;
    const seen = devices.get(deviceId);
    if (seen === undefined || seen.fingerprint === null) return false;
    if (seen.observed.resource === undefined) return seen.fingerprint === this.fingerprintOf(desired);
    // ARM: compare in the desired document's own form (bare or resource form).
    const pair = comparableObservation(seen.observed, desired);
    return pair.observed !== null && policyFingerprint(pair.observed) === this.fingerprintOf(pair.desired);
  }

  private async load(key: ObservationKey, abortSignal?: AbortSignal): Promise<FleetObservation> {
    const devices = new Map<string, { observed: ObservedDevice; fingerprint: string | null }>();
    try {
      for await (const observed of this.options.observe(key, abortSignal)) {
        const fingerprint = observed.document === null ? null : policyFingerprint(observed.document);
        devices.set(observed.deviceId, { observed, fingerprint });
      }
    } catch (error) {
      if (!isObservationUnsupportedError(error)) throw error;
      return { key, observedAtInMs: Date.now(), devices: 'unsupported' };
    }
    return { key, observedAtInMs: Date.now(), devices };
  }

  /** Documents are the inventory's, shared by every device of a policy: fingerprinted once each. */
  private fingerprintOf(document: Record<string, unknown>): string {
    let fingerprint = this.desiredFingerprints.get(document);
    if (fingerprint === undefined) {
      fingerprint = policyFingerprint(document);
      this.desiredFingerprints.set(document, fingerprint);
    }
    return fingerprint;
  }

  private remember(id: string, observation: FleetObservation): void {
    this.cache.delete(id);
    this.cache.set(id, observation);
    const max = this.options.maxCachedObservations ?? 4;
    while (this.cache.size > max) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}
