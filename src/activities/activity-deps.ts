/**
 * What the activities need from the world: the Azure writers, the inventory, the permission check, the alert
 * sender. createActivityDeps (deps.ts) builds them from Config; tests build their own.
 */
import type { ObservedDevice } from '../azure/observation';
import type { ObservationStore } from '../azure/observation-store';
import type { PolicyWriter } from '../azure/policy-writer';
import type { DeviceAssignment, PolicyDocument } from '../domain/inventory';
import type { PermissionReport } from '../domain/permissions';
import type { PolicyTarget } from '../domain/policy-target';
import type { InventorySnapshotData, LoadSnapshotResult } from '../inventory/inventory';
import type { Logger } from '../logger';
import type { AlertSender } from './alerts';
import type { BackoffOptions } from './retry-delay';

/** What the activities read the inventory through (InventoryStore implements it). */
export interface InventoryAccess {
  load(deviceIds?: string[], abortSignal?: AbortSignal): Promise<LoadSnapshotResult>;
  get(snapshotId: string, abortSignal?: AbortSignal): Promise<InventorySnapshotData>;
  readPage(
    snapshotId: string,
    offset: number,
    limit: number,
    abortSignal?: AbortSignal,
  ): Promise<DeviceAssignment[]>;
  findDevices(
    snapshotId: string,
    deviceIds: string[],
    abortSignal?: AbortSignal,
  ): Promise<{ devices: DeviceAssignment[]; unknown: string[] }>;
  policyDocument(snapshotId: string, policy: string, abortSignal?: AbortSignal): Promise<PolicyDocument>;
}

/** The role-propagation check, bound to the worker's hub and credential. */
export interface PermissionChecker {
  check(target: PolicyTarget, abortSignal?: AbortSignal): Promise<PermissionReport>;
}

/** How assessCompliance reads the twins: the device query, or one GET per device where the hub cannot run it. */
export interface TwinObservationAccess {
  /** Every twin of the hub; `onPage` hears each device query. Throws ObservationUnsupportedError. */
  observeAll(onPage: () => void, abortSignal?: AbortSignal): AsyncIterable<ObservedDevice>;
  observeOne(deviceId: string, abortSignal?: AbortSignal): Promise<ObservedDevice | 'notInHub'>;
}

export interface ActivityDeps {
  /**
   * The hub this worker's configuration points at (IOT_HUB_NAME). Activities of a sync for another hub fail as
   * Misconfigured instead of reading or writing this one. @default not checked
   */
  hub?: string;
  writers: Readonly<Record<PolicyTarget, PolicyWriter>>;
  inventory: InventoryAccess;
  /**
   * The fleet as observed in bulk (ARM's list, IoT Hub's device query), once per sync. @default none: every
   * page is answered 'unsupported' and its devices are read one by one by their writes
   */
  observations?: ObservationStore;
  permissions: PermissionChecker;
  alerts: AlertSender;
  /** Bulk reads of the twins, for assessCompliance. @default none: assessCompliance fails Misconfigured */
  twins?: TwinObservationAccess;
  logger: Logger;
  /** @default Math.random */
  random?: () => number;
  /** @default Date.now */
  now?: () => number;
  /** Backoff of retryable failures without Retry-After (matches the workflows' device retry policy). */
  backoff?: BackoffOptions;
}
