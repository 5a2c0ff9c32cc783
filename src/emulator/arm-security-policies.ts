import { hasAccess } from './access';
import {
  authorizationFailed,
  iotHubApiVersions,
  requireApiVersion,
  type ArmCaller,
  type ArmTarget,
} from './arm-paths';
import { continuationExpired, decodeContinuation, encodeContinuation } from './continuation';
import { isJsonObject, type DeviceRecord, type JsonObject } from './devices';
import {
  EmulatorHttpError,
  header,
  parseJsonBody,
  type EmulatorRequest,
  type EmulatorResponse,
} from './http';
import type { EmulatorWorld } from './world';

type SecurityPolicyTarget = Extract<ArmTarget, { kind: 'securityPolicies' }>;

/** The largest policy document accepted, in bytes of the request body. */
export const maxPolicyDocumentBytes = 32 * 1024;

const resourceType = 'Microsoft.Devices/IotHubs/securityPolicies';

/**
 * The seed's contract: `{hub}/securityPolicies/{deviceId}`, the body is the policy document. Authorization
 * comes first (as ARM checks it before the resource provider sees the call), then the device, then the body.
 */
export function handleSecurityPolicyRequest(
  request: EmulatorRequest,
  world: EmulatorWorld,
  caller: ArmCaller,
  target: SecurityPolicyTarget,
): EmulatorResponse {
  requireApiVersion(request, iotHubApiVersions, 'IotHubs');
  const operation = operationFor(request.method);
  const resourceScope =
    target.deviceId === undefined
      ? `${world.hub.scope}/securityPolicies`
      : `${world.hub.scope}/securityPolicies/${target.deviceId}`;
  if (!operation || (target.deviceId === undefined && request.method !== 'GET')) {
    throw new EmulatorHttpError(
      405,
      'MethodNotAllowed',
      `The HTTP method '${request.method}' is not supported for '${request.path}'.`,
    );
  }
  const action = `${resourceType}/${operation}`;
  if (!hasAccess(world, caller.objectId, resourceScope, action, 'action'))
    throw authorizationFailed(caller, action, resourceScope);

  if (target.deviceId === undefined) return listPolicies(request, world);
  request.note.deviceId = target.deviceId;
  const device = world.devices.get(target.deviceId);
  if (!device) {
    throw new EmulatorHttpError(
      404,
      'DeviceNotFound',
      `The device '${target.deviceId}' does not exist in IoT hub '${world.hub.name}'.`,
    );
  }
  switch (request.method) {
    case 'GET':
      if (device.policy === null) throw resourceNotFound(world, device.deviceId);
      return { status: 200, body: renderPolicy(world, device) };
    case 'PUT': {
      const { properties, resourceFields } = readPolicyDocument(request);
      // ARM's conditional PUT: `If-None-Match: *` creates only (a client that knows the resource is absent).
      if (header(request, 'if-none-match')?.trim() === '*' && device.policy !== null) {
        throw new EmulatorHttpError(
          412,
          'PreconditionFailed',
          `The security policy of device '${device.deviceId}' already exists; the request asked for none (If-None-Match: *).`,
        );
      }
      const created = device.policy === null;
      device.policy = properties;
      device.policyResourceFields = resourceFields;
      const at = new Date(world.now()).toISOString();
      device.policySystemData = {
        createdBy: device.policySystemData?.createdBy ?? caller.objectId,
        createdByType: 'Application',
        createdAt: device.policySystemData?.createdAt ?? at,
        lastModifiedBy: caller.objectId,
        lastModifiedByType: 'Application',
        lastModifiedAt: at,
      };
      device.armWrites++;
      return { status: created ? 201 : 200, body: renderPolicy(world, device) };
    }
    default: {
      if (device.policy === null) return { status: 204 };
      const body = renderPolicy(world, device);
      device.policy = null;
      device.policySystemData = null;
      device.policyResourceFields = {};
      device.armWrites++;
      return { status: 200, body };
    }
  }
}

/**
 * ARM's list contract: `{ value: [resource, …], nextLink? }`, each resource as a single GET returns it,
 * `nextLink` an absolute URL carrying `$skiptoken` until the last page. Only devices with a policy appear.
 */
function listPolicies(request: EmulatorRequest, world: EmulatorWorld): EmulatorResponse {
  const { listing } = world.faults.current;
  if (listing.armListUnsupported) {
    throw new EmulatorHttpError(
      405,
      'MethodNotAllowed',
      `The requested resource does not support http method 'GET' on the collection '${resourceType}'.`,
    );
  }
  const skipToken = request.query.get('$skiptoken') ?? request.query.get('$skipToken');
  let offset = 0;
  if (skipToken !== null) {
    const continuation = decodeContinuation(skipToken);
    if (continuation === 'invalid') {
      throw new EmulatorHttpError(400, 'InvalidSkipToken', 'The $skiptoken is not valid.');
    }
    if (continuationExpired(continuation, listing.continuationTtlMs, world.now())) {
      throw new EmulatorHttpError(
        400,
        'InvalidSkipToken',
        `The $skiptoken has expired (continuations are valid for ${listing.continuationTtlMs} ms); list the collection again from its first page.`,
      );
    }
    offset = continuation.offset;
  }
  const written = world.devices.list().filter((device) => device.policy !== null);
  const page = written.slice(offset, offset + listing.armPageSize);
  const body: Record<string, unknown> = { value: page.map((device) => renderPolicy(world, device)) };
  const next = offset + listing.armPageSize;
  if (next < written.length) {
    const query = new URLSearchParams({
      'api-version': request.query.get('api-version') ?? '',
      $skiptoken: encodeContinuation({ offset: next, issuedAtMs: world.now() }),
    });
    body['nextLink'] = `${world.url}${world.hub.scope}/securityPolicies?${query.toString()}`;
  }
  return { status: 200, body };
}

function operationFor(method: string): 'read' | 'write' | 'delete' | undefined {
  if (method === 'GET') return 'read';
  if (method === 'PUT') return 'write';
  if (method === 'DELETE') return 'delete';
  return undefined;
}

function readPolicyDocument(request: EmulatorRequest): {
  properties: JsonObject;
  resourceFields: JsonObject;
} {
  if (request.body.length > maxPolicyDocumentBytes) {
    throw new EmulatorHttpError(
      400,
      'InvalidRequestContent',
      `The security policy document is ${request.body.length} bytes; at most ${maxPolicyDocumentBytes} bytes are allowed.`,
    );
  }
  const parsed = parseJsonBody(request);
  if (!parsed.ok || !isJsonObject(parsed.value)) {
    throw new EmulatorHttpError(
      400,
      'InvalidRequestContent',
      'The request content was invalid and could not be deserialized: the policy document must be a JSON object.',
    );
  }
  const body = parsed.value;
  // ARM's resource form `{"properties": {…}}` sets the resource's properties (and tags, location, kind;
  // id, name, type and etag are the server's); any other object is the policy document itself (the
  // seed's contract), which becomes the properties.
  if (!isJsonObject(body.properties) || !Object.keys(body).every((key) => resourceBodyKeys.has(key))) {
    return { properties: body, resourceFields: {} };
  }
  const resourceFields = Object.fromEntries(
    Object.entries(body).filter(([key]) => writableResourceKeys.has(key)),
  ) as JsonObject;
  return { properties: body.properties, resourceFields };
}

/** Top-level keys of an ARM resource body a client may send, and those of them it may set. */
const writableResourceKeys = new Set(['location', 'tags', 'kind']);
const resourceBodyKeys = new Set(['id', 'name', 'type', 'properties', 'etag', ...writableResourceKeys]);

/** ARM's GET of a proxy resource: id, name, type, properties and systemData. */
function renderPolicy(world: EmulatorWorld, device: DeviceRecord): Record<string, unknown> {
  return {
    id: `${world.hub.scope}/securityPolicies/${device.deviceId}`,
    name: device.deviceId,
    type: resourceType,
    ...structuredClone(device.policyResourceFields),
    properties: structuredClone(device.policy),
    ...(device.policySystemData ? { systemData: { ...device.policySystemData } } : {}),
  };
}

function resourceNotFound(world: EmulatorWorld, deviceId: string): EmulatorHttpError {
  return new EmulatorHttpError(
    404,
    'ResourceNotFound',
    `The Resource 'Microsoft.Devices/IotHubs/${world.hub.name}/securityPolicies/${deviceId}' under resource group '${world.hub.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}
