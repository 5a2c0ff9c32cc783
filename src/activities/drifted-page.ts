/**
 * readDriftedInventoryPage's logic: a page of the inventory judged against the fleet's bulk observation, so
 * that a sync writes only the devices that drifted. The verdicts are taken from the worker's ObservationStore
 * (one bulk read per sync); the page's shape is a pure function of them.
 */
import type { ObservationKey, ObservationStore } from '../azure/observation-store';
import type { ReadDriftedPageResult } from '../domain/activity-contract';
import type { DeviceAssignment, PolicyDocument } from '../domain/inventory';

/**
 * What the observation says of one device: holds its policy, holds another, holds none (arm: not listed), or
 * is not in the hub (twin: not listed).
 */
export type DeviceVerdict = 'inSync' | 'drifted' | 'absent' | 'notInHub';

/** The page as the workflow takes it: the devices to write with their offsets, the rest counted unchanged. */
export function driftedPage(
  devices: readonly DeviceAssignment[],
  offset: number,
  verdicts: readonly DeviceVerdict[] | 'unsupported',
): ReadDriftedPageResult {
  if (verdicts === 'unsupported')
    return {
      devices: [...devices],
      offsets: devices.map((_, i) => offset + i),
      unchanged: 0,
      notInHub: [],
      observation: 'unsupported',
    };
  const result: ReadDriftedPageResult = {
    devices: [],
    offsets: [],
    unchanged: 0,
    notInHub: [],
    observation: 'bulk',
  };
  devices.forEach((device, i) => {
    const verdict = verdicts[i];
    if (verdict === 'inSync') {
      result.unchanged += 1;
      return;
    }
    result.devices.push(device);
    result.offsets.push(offset + i);
    if (verdict === 'notInHub') result.notInHub.push(device.deviceId);
    if (verdict === 'absent') (result.absent ??= []).push(device.deviceId);
  });
  return result;
}

export interface JudgeOptions {
  store: ObservationStore;
  key: ObservationKey;
  /** The desired document of a policy (the inventory snapshot's). */
  documentOf(policy: string): Promise<PolicyDocument>;
  /**
   * Whether the bulk read lists every device of the hub (the twin query does), so that a device it did not
   * list is not in the hub. ARM lists only devices holding a policy: there an unlisted device is a create.
   */
  listsEveryDevice: boolean;
}

/** Each device's verdict, or 'unsupported' when the hub offers no bulk read. Observes the fleet on first use. */
export async function judgeDevices(
  devices: readonly DeviceAssignment[],
  options: JudgeOptions,
): Promise<DeviceVerdict[] | 'unsupported'> {
  const { store, key } = options;
  // The observation is shared by every page of the sync (and every attempt): no abort signal of one caller.
  const { devices: observed } = await store.get(key);
  if (observed === 'unsupported') return 'unsupported';
  const verdicts: DeviceVerdict[] = [];
  for (const device of devices) {
    if (!observed.has(device.deviceId)) {
      verdicts.push(options.listsEveryDevice ? 'notInHub' : 'absent');
      continue;
    }
    const inSync = await store.isInSync(key, device.deviceId, await options.documentOf(device.policy));
    verdicts.push(inSync ? 'inSync' : 'drifted');
  }
  return verdicts;
}
