/** The inventory: reading and validating devices and policies (files or the hub's device query). */
export { InventoryError, isInventoryError, type InventoryErrorCode } from './errors';
export { DEFAULT_POLICY_NAME, DEVICE_ID_MAX_LENGTH, deviceIdProblem, deviceIdSchema } from './device-id';
export {
  loadPoliciesFile,
  validatePolicies,
  MAX_POLICY_BYTES,
  type PolicyDocument,
  type LoadedPolicies,
} from './policies';
export { readDevicesFile, jsonDeviceRows, detectDevicesFormat, type RawDeviceRow } from './devices-file';
export { InventoryBuilder } from './builder';
export { queryHubDevices, type HubDeviceQueryOptions } from './hub-source';
export {
  loadInventory,
  InventoryStore,
  type InventorySourceOptions,
  type InventoryStoreOptions,
  type LoadedInventory,
  type InventorySnapshotData,
  type LoadSnapshotResult,
} from './inventory';
