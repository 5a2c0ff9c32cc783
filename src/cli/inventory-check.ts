/**
 * Whether device ids given to a command are in the inventory, checked before a sync is started with them (a
 * sync started with an unknown id fails as a whole). Only where this shell can load the inventory: the worker's
 * configuration (DEVICES_FILE and POLICIES_FILE, or the hub's device query with the Azure variables).
 */
import { createAzureAccess } from '../azure/access';
import { inventorySourceOptions } from '../activities/deps';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config';
import { loadInventory } from '../inventory/inventory';
import type { CommandContext } from './output';

export type InventoryCheck = { checked: true; unknown: string[] } | { checked: false; reason: string };

export async function checkDeviceIds(
  ctx: CommandContext,
  overrides: ConfigOverrides,
  deviceIds: readonly string[],
): Promise<InventoryCheck> {
  let config;
  try {
    config = loadConfig(ctx.env, overrides);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return {
      checked: false,
      reason: `the inventory cannot be loaded here (${error.problems[0] ?? error.message})`,
    };
  }
  // The file source needs no Azure access; the hub's device query does.
  const azure = config.inventory.source === 'hub' ? createAzureAccess(config) : undefined;
  try {
    const options = azure
      ? inventorySourceOptions(config, azure)
      : {
          source: config.inventory.source,
          ...(config.inventory.devicesFile ? { devicesFile: config.inventory.devicesFile } : {}),
          ...(config.inventory.policiesFile ? { policiesFile: config.inventory.policiesFile } : {}),
        };
    const inventory = await loadInventory(options, ctx.signal);
    const known = new Set(inventory.devices.map((device) => device.deviceId));
    return { checked: true, unknown: deviceIds.filter((id) => !known.has(id)) };
  } catch (error) {
    return {
      checked: false,
      reason: `the inventory could not be loaded (${error instanceof Error ? error.message : String(error)})`,
    };
  } finally {
    await azure?.close();
  }
}
