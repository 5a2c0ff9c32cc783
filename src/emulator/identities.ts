import { randomBytes } from 'node:crypto';

/** The service principal the emulator knows. */
export interface EmulatorPrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  objectId: string;
}

/** The emulated IoT hub and where it lives. `scope` is its ARM resource id. */
export interface EmulatorHub {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  scope: string;
}

export const audiences = {
  management: 'https://management.azure.com',
  iotHub: 'https://iothubs.azure.net',
} as const;
export type Audience = (typeof audiences)[keyof typeof audiences];

/** Fixed, recognisable ids; only the client secret changes from one start to the next. */
export function createPrincipal(): EmulatorPrincipal {
  return {
    tenantId: '00000000-0000-4000-8000-000000000001',
    clientId: '00000000-0000-4000-8000-000000000002',
    clientSecret: createClientSecret(),
    objectId: '00000000-0000-4000-8000-000000000003',
  };
}

export const defaultHubName = 'hub-emulated';

/** IoT hub names as the emulator accepts them: 3 to 50 letters, digits and hyphens. */
export const hubNamePattern = /^[A-Za-z0-9-]{3,50}$/;

/** The hub, by default `hub-emulated`; several emulators (one per test) can each have their own name. */
export function createHub(name: string = defaultHubName): EmulatorHub {
  const subscriptionId = '00000000-0000-4000-8000-000000000004';
  const resourceGroup = 'rg-iot';
  return {
    subscriptionId,
    resourceGroup,
    name,
    scope: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Devices/IotHubs/${name}`,
  };
}

/** Shaped like an Entra ID secret value (`xxx8Q~` and 34 more characters). */
function createClientSecret(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
  const pick = (count: number): string =>
    Array.from(randomBytes(count), (byte) => alphabet[byte % alphabet.length]).join('');
  return `${pick(3)}8Q~${pick(34)}`;
}
