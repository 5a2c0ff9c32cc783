import { hasAccess } from './access';
import type { TransientOutcome } from './fault-injector';
import {
  isJsonObject,
  jsonByteLength,
  mergePatch,
  parseDeviceQuery,
  projectTwin,
  renderTwin,
  setDesired,
  twinEtag,
  twinMatches,
  type DeviceRecord,
  type JsonObject,
} from './devices';
import { continuationExpired, decodeContinuation, encodeContinuation } from './continuation';
import {
  EmulatorHttpError,
  header,
  parseJsonBody,
  type EmulatorRequest,
  type EmulatorResponse,
} from './http';
import { audiences } from './identities';
import type { EmulatorWorld } from './world';

export const iotHubDataApiVersions = ['2018-06-30', '2019-10-01', '2020-03-13', '2020-09-30', '2021-04-12'];
/** IoT Hub's limits on a twin: desired properties 32 KB, tags 8 KB. */
export const maxDesiredPropertiesBytes = 32 * 1024;
export const maxTagsBytes = 8 * 1024;
const defaultPageSize = 100;

/**
 * The IoT Hub service API on the same port: twins and the device query, Entra ID tokens only, authorized by
 * the Microsoft.Devices/IotHubs/twins/* data actions of the caller's role assignments.
 */
export function handleIotHub(
  request: EmulatorRequest,
  world: EmulatorWorld,
  transient: TransientOutcome | undefined,
): EmulatorResponse {
  try {
    if (transient === 'error500') {
      world.faults.counters.error500++;
      throw new EmulatorHttpError(500, 'ServerError', 'InternalServerError');
    }
    if (transient === 'error503') {
      world.faults.counters.error503++;
      throw new EmulatorHttpError(
        503,
        'ServiceUnavailable',
        'The service is unavailable. Please retry the operation.',
        {
          'retry-after': String(world.faults.current.transient.retryAfterSeconds),
        },
      );
    }
    const version = request.query.get('api-version');
    if (!version || !iotHubDataApiVersions.includes(version)) {
      throw new EmulatorHttpError(
        400,
        'InvalidProtocolVersion',
        `Invalid api-version '${version ?? ''}'. Supported versions: ${iotHubDataApiVersions.join(', ')}.`,
      );
    }
    const principal = authenticate(request, world);
    const [collection = '', id, ...more] = request.segments;
    if (more.length > 0 || id === undefined) throw notFound(request);
    if (collection.toLowerCase() === 'twins') return handleTwin(request, world, principal, id);
    if (collection.toLowerCase() === 'devices' && id.toLowerCase() === 'query' && request.method === 'POST') {
      authorize(request, world, principal, 'read');
      return queryDevices(request, world);
    }
    throw notFound(request);
  } catch (error) {
    return iotHubErrorResponse(request, world, error);
  }
}

function handleTwin(
  request: EmulatorRequest,
  world: EmulatorWorld,
  principal: string,
  deviceId: string,
): EmulatorResponse {
  request.note.deviceId = deviceId;
  const { method } = request;
  if (method !== 'GET' && method !== 'PATCH' && method !== 'PUT') {
    throw new EmulatorHttpError(
      405,
      'InvalidOperation',
      `The HTTP method '${method}' is not supported on twins.`,
    );
  }
  authorize(request, world, principal, method === 'GET' ? 'read' : 'write');
  if (method !== 'GET') {
    const throttle = world.faults.takeTwinUpdate(world.now());
    if (!throttle.allowed) {
      world.faults.counters.throttled++;
      throw new EmulatorHttpError(
        429,
        'ThrottlingException',
        'Rate limit for twin updates exceeded. Please retry with exponential back-off.',
      );
    }
  }
  const device = world.devices.get(deviceId);
  if (!device) throw new EmulatorHttpError(404, 'DeviceNotFound', `Device ${deviceId} not registered`);
  if (method !== 'GET') updateTwin(request, world, device, method === 'PUT' ? 'replace' : 'merge');
  const twin = renderTwin(device);
  return { status: 200, headers: { etag: `"${String(twin['etag'])}"` }, body: twin };
}

/** PATCH merges tags and desired properties (null removes a key); PUT replaces them. Either needs If-Match to hold. */
function updateTwin(
  request: EmulatorRequest,
  world: EmulatorWorld,
  device: DeviceRecord,
  mode: 'merge' | 'replace',
): void {
  const current = twinEtag(device.twin.version);
  const ifMatch = header(request, 'if-match')?.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  if (ifMatch && ifMatch !== '*' && ifMatch !== current) {
    throw new EmulatorHttpError(
      412,
      'PreconditionFailed',
      `Precondition failed: Device version did not match, expected ${ifMatch}, current ${current}`,
    );
  }
  const parsed = parseJsonBody(request);
  if (!parsed.ok || !isJsonObject(parsed.value)) {
    throw new EmulatorHttpError(
      400,
      'IotHubFormatError',
      'Unable to parse the twin: the body must be a JSON object.',
    );
  }
  const patch = parsed.value;
  const tags = patch['tags'];
  const properties = patch['properties'];
  if (
    (tags !== undefined && tags !== null && !isJsonObject(tags)) ||
    (properties !== undefined && !isJsonObject(properties))
  ) {
    throw new EmulatorHttpError(400, 'ArgumentInvalid', 'tags and properties must be JSON objects.');
  }
  if (properties && properties['reported'] !== undefined) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      'Reported properties cannot be updated by a service client.',
    );
  }
  const desired = properties?.['desired'];
  if (desired !== undefined && !isJsonObject(desired)) {
    throw new EmulatorHttpError(400, 'ArgumentInvalid', 'properties.desired must be a JSON object.');
  }
  const tagChange = isJsonObject(tags) ? tags : undefined;
  const next = (base: JsonObject, change: JsonObject | undefined): JsonObject =>
    mode === 'replace' ? mergePatch({}, change ?? {}) : change ? mergePatch(base, change) : base;
  const nextTags = next(device.twin.tags, tagChange);
  const nextDesired = next(device.twin.desired, desired);
  const desiredBytes = jsonByteLength(nextDesired);
  if (desiredBytes > maxDesiredPropertiesBytes) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      `Twin desired properties would be ${desiredBytes} bytes; the maximum is ${maxDesiredPropertiesBytes} bytes.`,
    );
  }
  const tagBytes = jsonByteLength(nextTags);
  if (tagBytes > maxTagsBytes) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      `Twin tags would be ${tagBytes} bytes; the maximum is ${maxTagsBytes} bytes.`,
    );
  }
  const { twin } = device;
  const previousDesired = twin.desired;
  twin.tags = nextTags;
  if (JSON.stringify(nextDesired) !== JSON.stringify(twin.desired))
    setDesired(twin, nextDesired, new Date(world.now()).toISOString());
  twin.version++;
  device.twinWrites++;
  world.agents.desiredUpdated(device, previousDesired);
}

/**
 * `SELECT * | <path> [AS alias], … FROM devices [WHERE …]`, paged by x-ms-max-item-count (capped by the
 * hub) and x-ms-continuation, throttled by the hub's queries per minute.
 */
function queryDevices(request: EmulatorRequest, world: EmulatorWorld): EmulatorResponse {
  const { listing } = world.faults.current;
  const throttle = world.faults.takeQuery(world.now());
  if (!throttle.allowed) {
    world.faults.counters.throttled++;
    throw new EmulatorHttpError(
      429,
      'ThrottlingException',
      `Rate limit for device queries exceeded (${listing.queriesPerMinute} per minute). Please retry with exponential back-off.`,
    );
  }
  const parsed = parseJsonBody(request);
  const text = parsed.ok && isJsonObject(parsed.value) ? parsed.value['query'] : undefined;
  if (typeof text !== 'string')
    throw new EmulatorHttpError(400, 'IotHubFormatError', 'The body must be {"query": "<query text>"}.');
  const query = parseDeviceQuery(text);
  if (!query) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      `The emulator understands SELECT * | <path> [AS alias], … FROM devices [WHERE <path> = <literal> [AND …]]; got: ${text}`,
    );
  }
  if (query.projection && listing.queryUnsupported) {
    throw new EmulatorHttpError(
      400,
      'BadRequest',
      'SQL query parse failed due to following errors: Line 1:7 projections are not supported by this hub.',
    );
  }
  const names = query.projection?.map((column) => column.name) ?? [];
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      `Two projected columns are both named '${duplicate}' (a column is named after the last segment of its path); name them apart with AS.`,
    );
  }
  const pageSize = Math.min(readPageSize(header(request, 'x-ms-max-item-count')), listing.queryPageCap);
  const offset = readContinuation(header(request, 'x-ms-continuation'), listing.continuationTtlMs, world);
  const matching = world.devices
    .list()
    .map(renderTwin)
    .filter((twin) => twinMatches(twin, query));
  const page = matching.slice(offset, offset + pageSize);
  const { projection } = query;
  const headers: Record<string, string> = { 'x-ms-item-type': projection ? 'raw' : 'twin' };
  if (offset + pageSize < matching.length) {
    headers['x-ms-continuation'] = encodeContinuation({ offset: offset + pageSize, issuedAtMs: world.now() });
  }
  return {
    status: 200,
    headers,
    body: projection ? page.map((twin) => projectTwin(twin, projection)) : page,
  };
}

function readPageSize(value: string | undefined): number {
  if (value === undefined || value === '') return defaultPageSize;
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      `x-ms-max-item-count must be a positive integer; got '${value}'.`,
    );
  }
  return size;
}

function readContinuation(value: string | undefined, ttlMs: number, world: EmulatorWorld): number {
  if (value === undefined || value === '') return 0;
  const continuation = decodeContinuation(value);
  if (continuation === 'invalid') {
    throw new EmulatorHttpError(400, 'ArgumentInvalid', 'The continuation token is not valid.');
  }
  if (continuationExpired(continuation, ttlMs, world.now())) {
    throw new EmulatorHttpError(
      400,
      'ArgumentInvalid',
      `The continuation token has expired (valid for ${ttlMs} ms); run the query again.`,
    );
  }
  return continuation.offset;
}

/** An Entra ID token for https://iothubs.azure.net, current and known. */
function authenticate(request: EmulatorRequest, world: EmulatorWorld): string {
  const check = world.tokens.check(header(request, 'authorization'), world.now());
  if (check.token) request.note.token = check.token;
  if (check.issued)
    Object.assign(request.note, {
      principal: check.issued.principalObjectId,
      audience: check.issued.audience,
    });
  if (!check.ok) {
    const reason =
      check.reason === 'expired'
        ? 'The token has expired'
        : check.reason === 'missing'
          ? 'Authorization header missing'
          : 'Unauthorized';
    throw new EmulatorHttpError(401, 'IotHubUnauthorizedAccess', reason);
  }
  if (check.issued.audience !== audiences.iotHub) {
    throw new EmulatorHttpError(
      401,
      'IotHubUnauthorizedAccess',
      `Unauthorized: the token audience '${check.issued.audience}' is not ${audiences.iotHub}`,
    );
  }
  return check.issued.principalObjectId;
}

/** As IoT Hub answers a principal without the data action: 401 IotHubUnauthorized, not 403. */
function authorize(
  request: EmulatorRequest,
  world: EmulatorWorld,
  principal: string,
  operation: 'read' | 'write',
): void {
  const action = `Microsoft.Devices/IotHubs/twins/${operation}`;
  if (hasAccess(world, principal, world.hub.scope, action, 'dataAction')) return;
  throw new EmulatorHttpError(
    401,
    'IotHubUnauthorized',
    `Principal ${principal} is not authorized for ${request.method} on ${request.path} due to no assigned permissions`,
  );
}

/** IoT Hub's error body: `{ Message: "ErrorCode:<code>;<text>", ExceptionMessage: "Tracking ID:…" }`. */
function iotHubErrorResponse(
  request: EmulatorRequest,
  world: EmulatorWorld,
  error: unknown,
): EmulatorResponse {
  const failure =
    error instanceof EmulatorHttpError
      ? error
      : new EmulatorHttpError(500, 'ServerError', `The emulator failed: ${String(error)}`);
  request.note.code = failure.code;
  const at = new Date(world.now());
  const pad = (value: number): string => String(value).padStart(2, '0');
  const timestamp = `${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}/${at.getUTCFullYear()} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`;
  return {
    status: failure.status,
    headers: { ...failure.headers, 'iothub-errorcode': failure.code },
    body: {
      Message: `ErrorCode:${failure.code};${failure.message}`,
      ExceptionMessage: `Tracking ID:${request.requestId.replace(/-/g, '')}-G:0-TimeStamp:${timestamp}`,
    },
  };
}

function notFound(request: EmulatorRequest): EmulatorHttpError {
  return new EmulatorHttpError(
    404,
    'NotFound',
    `The emulator does not serve ${request.method} ${request.path}.`,
  );
}
