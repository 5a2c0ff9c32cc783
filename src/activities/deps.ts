/**
 * The composition of the activities' dependencies from WorkerConfig: what the worker calls once at start.
 */
import type { Dispatcher } from 'undici';
import { createAzureAccess, type AzureAccess, type AzureAccessOptions } from '../azure/access';
import { observeArmPolicies, type ArmObserverOptions } from '../azure/arm-observer';
import { ObservationStore } from '../azure/observation-store';
import { checkRolePropagation } from '../azure/preflight';
import {
  createQueryPacer,
  observeTwinPolicies,
  observeTwinPolicy,
  type TwinObserverOptions,
} from '../azure/twin-observer';
import type { AzureConfig, WorkerConfig } from '../config';
import type { WritePacer } from '../azure/pacing';
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
 * How this worker's Azure access reads the ARM target's policies: ARM's list (or one GET per device) through the
 * ARM read pacer and the hub's authorization gate. The sync's observation and `policy-sync plan` read alike.
 */
export function armObserverOptions(
  config: AzureConfig,
  azure: AzureAccess,
  abortSignal?: AbortSignal,
): ArmObserverOptions {
  return {
    http: azure.http,
    tokens: azure.armTokens,
    armEndpoint: config.azure.armEndpoint,
    hubScope: config.hub.scope,
    apiVersion: config.policy.apiVersion,
    ...(azure.armReadPacer ? { readPacer: azure.armReadPacer } : {}),
    ...(azure.armGate ? { gate: azure.armGate } : {}),
    ...(abortSignal ? { abortSignal } : {}),
  };
}

/** How this worker's Azure access reads twins: the device query through `queryPacer` (one per hub), or a GET each. */
export function twinObserverOptions(
  config: AzureConfig,
  azure: AzureAccess,
  queryPacer: WritePacer,
  abortSignal?: AbortSignal,
): TwinObserverOptions {
  return {
    http: azure.http,
    tokens: azure.iotHubTokens,
    hubHost: config.hub.host,
    queryPacer,
    ...(abortSignal ? { abortSignal } : {}),
  };
}

/**
 * The twins as assessCompliance reads them: the device query through one query pacer per worker (IoT Hub
 * counts queries per hub, not per call), or one GET per device.
 */
export function twinObservationAccess(
  config: WorkerConfig,
  azure: AzureAccess,
  queryPacer: WritePacer = createQueryPacer(config.hub.queriesPerMinute),
): TwinObservationAccess {
  return {
    observeAll: (onPage, abortSignal) =>
      observeTwinPolicies({ ...twinObserverOptions(config, azure, queryPacer, abortSignal), onPage }),
    observeOne: (deviceId, abortSignal) =>
      observeTwinPolicy(twinObserverOptions(config, azure, queryPacer, abortSignal), deviceId),
  };
}

/**
 * One store of fleet observations per worker, reading with the worker's Azure access: ARM's list through the
 * ARM read pacer, IoT Hub's device query through one query pacer at IOT_HUB_QUERIES_PER_MINUTE.
 */
export function createObservationStore(
  config: AzureConfig,
  azure: AzureAccess,
  queryPacer: WritePacer = createQueryPacer(config.hub.queriesPerMinute),
): ObservationStore {
  return new ObservationStore({
    observe: (key, abortSignal) =>
      key.target === 'arm'
        ? observeArmPolicies(armObserverOptions(config, azure, abortSignal))
        : observeTwinPolicies(twinObserverOptions(config, azure, queryPacer, abortSignal)),
  });
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
  // IoT Hub counts queries per hub: the observation and the acknowledgement checks share one pacer.
  const queryPacer = createQueryPacer(config.hub.queriesPerMinute);
  const inventoryStore = new InventoryStore({
    ...inventorySourceOptions(config, azure),
    ...(options.selectionDir ? { selectionDir: options.selectionDir } : {}),
  });
  return {
    hub: config.hub.name,
    writers: azure.writers,
    inventory: inventoryStore,
    inventoryStore,
    observations: createObservationStore(config, azure, queryPacer),
    permissions: {
      check: (target, abortSignal) => checkRolePropagation(azure.rolePropagation, target, abortSignal),
    },
    alerts: createAlertSender({
      logger,
      ...(config.alertWebhookUrl ? { webhookUrl: config.alertWebhookUrl } : {}),
      ...(options.webhookDispatcher ? { dispatcher: options.webhookDispatcher } : {}),
    }),
    twins: twinObservationAccess(config, azure, queryPacer),
    logger,
    ...(options.random ? { random: options.random } : {}),
    azure,
    close: () => azure.close(),
  };
}
