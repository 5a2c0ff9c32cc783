/**
 * The composition of the activities' dependencies from WorkerConfig: what the worker calls once at start.
 */
import type { Dispatcher } from 'undici';
import { createAzureAccess, type AzureAccess, type AzureAccessOptions } from '../azure/access';
import { checkRolePropagation } from '../azure/preflight';
import {
  createQueryPacer,
  observeTwinPolicies,
  observeTwinPolicy,
  type TwinObserverOptions,
} from '../azure/twin-observer';
import type { WorkerConfig } from '../config';
import { queryHubDevices } from '../inventory/hub-source';
import { InventoryStore, type InventorySourceOptions } from '../inventory/inventory';
import { createLogger, registerSecret, type Logger } from '../logger';
import { createAlertSender } from './alerts';
import type { ActivityDeps, TwinObservationAccess } from './activity-deps';

export type WorkerAzureAccess = AzureAccess;

export interface ActivityDepsOptions extends AzureAccessOptions {
  /** @default createLogger() */
  logger?: Logger;
  /** Dispatcher for the alert webhook. @default undici's global */
  webhookDispatcher?: Dispatcher;
  /** @default Math.random */
  random?: () => number;
  /** Where narrowed snapshots' selections are kept (see InventoryStore). */
  selectionDir?: string;
}

/** The inventory source options from WorkerConfig, with the hub query bound to this Azure access. */
export function inventorySourceOptions(config: WorkerConfig, azure: AzureAccess): InventorySourceOptions {
  return {
    source: config.inventory.source,
    ...(config.inventory.devicesFile ? { devicesFile: config.inventory.devicesFile } : {}),
    ...(config.inventory.policiesFile ? { policiesFile: config.inventory.policiesFile } : {}),
    hubDevices: (abortSignal) =>
      queryHubDevices({
        http: azure.http,
        tokens: azure.iotHubTokens,
        hubHost: config.hub.host,
        ...(abortSignal ? { abortSignal } : {}),
      }),
  };
}

/**
 * The twins as assessCompliance reads them: the device query through one query pacer per worker (IoT Hub
 * counts queries per hub, not per call), or one GET per device.
 */
export function twinObservationAccess(config: WorkerConfig, azure: AzureAccess): TwinObservationAccess {
  const base: TwinObserverOptions = {
    http: azure.http,
    tokens: azure.iotHubTokens,
    hubHost: config.hub.host,
    queryPacer: createQueryPacer(),
  };
  return {
    observeAll: (onPage, abortSignal) =>
      observeTwinPolicies({ ...base, onPage, ...(abortSignal ? { abortSignal } : {}) }),
    observeOne: (deviceId, abortSignal) =>
      observeTwinPolicy({ ...base, ...(abortSignal ? { abortSignal } : {}) }, deviceId),
  };
}

/**
 * Everything createActivities needs, built once per worker process. `azure` is exposed for reuse
 * (e.g. the CLI's preflight) and `close()` releases the connections.
 */
export function createActivityDeps(
  config: WorkerConfig,
  options: ActivityDepsOptions = {},
): ActivityDeps & { azure: AzureAccess; inventoryStore: InventoryStore; close(): Promise<void> } {
  const logger = options.logger ?? createLogger();
  registerSecret(config.azure.clientSecret);
  if (config.alertWebhookUrl) registerSecret(config.alertWebhookUrl);
  const azure = createAzureAccess(config, options);
  const inventoryStore = new InventoryStore({
    ...inventorySourceOptions(config, azure),
    ...(options.selectionDir ? { selectionDir: options.selectionDir } : {}),
  });
  return {
    hub: config.hub.name,
    writers: azure.writers,
    inventory: inventoryStore,
    inventoryStore,
    permissions: {
      check: (target, abortSignal) => checkRolePropagation(azure.rolePropagation, target, abortSignal),
    },
    alerts: createAlertSender({
      logger,
      ...(config.alertWebhookUrl ? { webhookUrl: config.alertWebhookUrl } : {}),
      ...(options.webhookDispatcher ? { dispatcher: options.webhookDispatcher } : {}),
    }),
    twins: twinObservationAccess(config, azure),
    logger,
    ...(options.random ? { random: options.random } : {}),
    azure,
    close: () => azure.close(),
  };
}
