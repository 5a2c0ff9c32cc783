import { EmulatorHttpError, type EmulatorRequest } from './http';
import type { EmulatorWorld } from './world';

/** A scope the emulator knows: the tenant root, its subscription, resource group, or the hub. */
export interface ArmScope {
  level: 'tenant' | 'subscription' | 'resourceGroup' | 'hub';
  /** Canonical casing, no trailing slash; `/` for the tenant root. */
  scope: string;
}

/** What an ARM path addresses. */
export type ArmTarget =
  | {
      kind: 'authorization';
      at: ArmScope;
      collection: 'permissions' | 'roleDefinitions' | 'roleAssignments';
      name?: string;
    }
  | { kind: 'securityPolicies'; at: ArmScope; deviceId?: string };

/** An authenticated ARM call: who, with which token. */
export interface ArmCaller {
  objectId: string;
  token: string;
  /** The token was issued in answer to a claims challenge. */
  answersChallenge: boolean;
}

/** The api-versions of Microsoft.Authorization that the emulator answers (always with 2022-04-01 shapes). */
export const authorizationApiVersions = [
  '2015-07-01',
  '2018-01-01-preview',
  '2018-09-01-preview',
  '2020-04-01-preview',
  '2020-10-01',
  '2020-10-01-preview',
  '2022-04-01',
  '2022-05-01-preview',
];
export const iotHubApiVersions = ['2021-07-01', '2021-07-02', '2023-06-30'];

/**
 * Splits `{scope}/providers/Microsoft.Authorization/{collection}[/{name}]` and `{hub}/securityPolicies[/{id}]`.
 * Unknown subscriptions, resource groups, hubs and resource types get ARM's 404s.
 */
export function resolveArmTarget(request: EmulatorRequest, world: EmulatorWorld): ArmTarget {
  const segments = request.segments;
  const lower = segments.map((segment) => segment.toLowerCase());
  let extension = -1;
  for (let i = 0; i < lower.length - 1; i++) {
    if (lower[i] === 'providers' && lower[i + 1] === 'microsoft.authorization') extension = i;
  }
  if (extension >= 0) {
    const { at, rest } = resolveScope(segments.slice(0, extension), world);
    const [collection = '', name, ...more] = segments.slice(extension + 2);
    if (rest.length > 0 || more.length > 0) throw pathNotFound(request);
    const known = (['permissions', 'roleDefinitions', 'roleAssignments'] as const).find(
      (candidate) => candidate.toLowerCase() === collection.toLowerCase(),
    );
    if (!known || (known === 'permissions' && name !== undefined)) {
      throw invalidResourceType(collection, 'Microsoft.Authorization', request.query.get('api-version'));
    }
    return name === undefined
      ? { kind: 'authorization', at, collection: known }
      : { kind: 'authorization', at, collection: known, name };
  }
  const { at, rest } = resolveScope(segments, world);
  const [childType, deviceId, ...more] = rest;
  if (at.level !== 'hub' || childType === undefined) throw pathNotFound(request);
  if (
    childType.toLowerCase() !== 'securitypolicies' ||
    !world.catalog.hasSecurityPolicies ||
    more.length > 0
  ) {
    throw invalidResourceType(childType, 'Microsoft.Devices', request.query.get('api-version'));
  }
  return deviceId === undefined
    ? { kind: 'securityPolicies', at }
    : { kind: 'securityPolicies', at, deviceId };
}

/** Resolves the leading scope segments; `rest` is what follows the hub. */
export function resolveScope(
  segments: readonly string[],
  world: EmulatorWorld,
): { at: ArmScope; rest: string[] } {
  const { hub } = world;
  const [root, subscription, groupsKeyword, group, providersKeyword, namespace, type, name, ...rest] =
    segments;
  if (root === undefined) return { at: { level: 'tenant', scope: '/' }, rest: [] };
  if (root.toLowerCase() !== 'subscriptions' || subscription === undefined) {
    throw new EmulatorHttpError(
      404,
      'NotFound',
      `The requested resource path '/${segments.join('/')}' was not found.`,
    );
  }
  if (subscription.toLowerCase() !== hub.subscriptionId) {
    throw new EmulatorHttpError(
      404,
      'SubscriptionNotFound',
      `The subscription '${subscription}' could not be found.`,
    );
  }
  const subscriptionScope = `/subscriptions/${hub.subscriptionId}`;
  if (groupsKeyword === undefined)
    return { at: { level: 'subscription', scope: subscriptionScope }, rest: [] };
  if (groupsKeyword.toLowerCase() !== 'resourcegroups' || group === undefined) {
    throw new EmulatorHttpError(
      404,
      'NotFound',
      `The requested resource path '/${segments.join('/')}' was not found.`,
    );
  }
  if (group.toLowerCase() !== hub.resourceGroup.toLowerCase()) {
    throw new EmulatorHttpError(
      404,
      'ResourceGroupNotFound',
      `Resource group '${group}' could not be found.`,
    );
  }
  const groupScope = `${subscriptionScope}/resourceGroups/${hub.resourceGroup}`;
  if (providersKeyword === undefined) return { at: { level: 'resourceGroup', scope: groupScope }, rest: [] };
  const isHub =
    providersKeyword.toLowerCase() === 'providers' &&
    namespace?.toLowerCase() === 'microsoft.devices' &&
    type?.toLowerCase() === 'iothubs' &&
    name?.toLowerCase() === hub.name.toLowerCase();
  if (!isHub) {
    throw new EmulatorHttpError(
      404,
      'ResourceNotFound',
      `The Resource '${namespace ?? ''}/${type ?? ''}/${name ?? ''}' under resource group '${hub.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    );
  }
  return { at: { level: 'hub', scope: hub.scope }, rest };
}

/** 400 MissingApiVersionParameter or InvalidApiVersionParameter, as ARM answers for a provider. */
export function requireApiVersion(
  request: EmulatorRequest,
  supported: readonly string[],
  resourceType: string,
): string {
  const version = request.query.get('api-version');
  if (!version) {
    throw new EmulatorHttpError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  if (!supported.includes(version)) {
    throw new EmulatorHttpError(
      400,
      resourceType === 'IotHubs' ? 'NoRegisteredProviderFound' : 'InvalidApiVersionParameter',
      resourceType === 'IotHubs'
        ? `No registered resource provider found for location 'westeurope' and API version '${version}' for type 'IotHubs'. The supported api-versions are '${supported.join(', ')}'. The supported locations are 'westeurope, northeurope, eastus, westus2'.`
        : `The api-version '${version}' is invalid. The supported versions are '${supported.join(',')}'.`,
    );
  }
  return version;
}

/** 403 AuthorizationFailed in ARM's words, followed by the seed environment's own sentence. */
export function authorizationFailed(caller: ArmCaller, action: string, scope: string): EmulatorHttpError {
  return new EmulatorHttpError(
    403,
    'AuthorizationFailed',
    `The client '${caller.objectId}' with object id '${caller.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials. Client does not have permission to perform action '${action}'.`,
  );
}

function invalidResourceType(type: string, namespace: string, apiVersion: string | null): EmulatorHttpError {
  return new EmulatorHttpError(
    404,
    'InvalidResourceType',
    `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${apiVersion ?? ''}'.`,
  );
}

function pathNotFound(request: EmulatorRequest): EmulatorHttpError {
  return new EmulatorHttpError(
    404,
    'NotFound',
    `The emulator does not serve ${request.method} ${request.path}.`,
  );
}
