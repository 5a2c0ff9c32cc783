/**
 * The Azure emulator: Entra ID, Resource Manager and IoT Hub on one HTTPS port, for tests, the demo and
 * benchmarks. It imports nothing from the product. See README.md beside this file.
 */
export { startEmulator, type Emulator, type EmulatorOptions } from './emulator';
export {
  emulatorProfileNames,
  emulatorProfiles,
  resolveFaultSettings,
  type EmulatorProfileName,
  type FaultOverrides,
  type FaultSettings,
  type LatencyFault,
  type ListingFault,
  type PropagationFault,
  type ThrottlingFault,
  type TokenBucketSettings,
  type TransientFault,
} from './fault-settings';
export type { FaultCounters } from './fault-injector';
export { defaultDeviceFault, type DeviceFault } from './device-settings';
export type { AcknowledgementCounts, AcknowledgementStatus, WritablePropertyAck } from './device-agents';
export type { EmulatorState } from './introspection';
export type { RequestRecord } from './journal';
export type { EmulatorHub, EmulatorPrincipal } from './identities';
export type { CatalogName } from './catalog';
