/** The hub's devices: each one's security policy (the ARM resource) and its twin. */

export type JsonObject = { [key: string]: unknown };

export interface TwinState {
  version: number;
  tags: JsonObject;
  desired: JsonObject;
  desiredVersion: number;
  desiredUpdatedAt: string;
  /**
   * Per top-level desired property, when and at which desired `$version` its value last changed: IoT Hub's
   * `properties.desired.$metadata.<name>.$lastUpdated` / `$lastUpdatedVersion`.
   */
  desiredMetadata: Record<string, DesiredPropertyMetadata>;
  reported: JsonObject;
  /** The reported section's own $version and last change: the simulated device moves them (device-agents.ts). */
  reportedVersion: number;
  reportedUpdatedAt: string;
}

export interface DesiredPropertyMetadata {
  lastUpdated: string;
  lastUpdatedVersion: number;
}

/** Who created and last changed an ARM resource, and when, as ARM reports it. */
export interface ArmSystemData {
  createdBy: string;
  createdByType: 'Application';
  createdAt: string;
  lastModifiedBy: string;
  lastModifiedByType: 'Application';
  lastModifiedAt: string;
}

export type ConnectionState = 'Connected' | 'Disconnected';

export interface DeviceRecord {
  deviceId: string;
  /** The policy the inventory names for this device (tags.securityPolicy). */
  policyName: string;
  /** The securityPolicies resource's properties (the policy document): null until written. */
  policy: unknown;
  /** ARM's systemData of the resource: null while there is none. */
  policySystemData: ArmSystemData | null;
  /** Top-level fields of the resource a client may set besides properties (tags, location, kind). */
  policyResourceFields: JsonObject;
  armWrites: number;
  twinWrites: number;
  twin: TwinState;
  /** Kept by the simulated device (device-agents.ts). */
  connectionState: ConnectionState;
  connectionStateUpdatedAt: string;
}

/** The policy documents the inventory files carry: small, like the seed's. */
export const policyDocuments: Readonly<Record<string, JsonObject>> = {
  baseline: {
    version: 3,
    rules: [
      { id: 'tls-min', setting: 'tls.minVersion', value: '1.2' },
      { id: 'ssh-off', setting: 'services.ssh', value: 'disabled' },
      { id: 'fw-default', setting: 'firewall.defaultInbound', value: 'deny' },
    ],
  },
  strict: {
    version: 5,
    rules: [
      { id: 'tls-min', setting: 'tls.minVersion', value: '1.3' },
      { id: 'ssh-off', setting: 'services.ssh', value: 'disabled' },
      { id: 'usb-off', setting: 'ports.usb', value: 'disabled' },
      { id: 'fw-default', setting: 'firewall.defaultInbound', value: 'deny' },
      { id: 'fw-egress', setting: 'firewall.allowedEgress', value: ['*.azure-devices.net:8883'] },
    ],
  },
  kiosk: {
    version: 2,
    rules: [
      { id: 'tls-min', setting: 'tls.minVersion', value: '1.2' },
      { id: 'screen-lock', setting: 'display.lockAfterSeconds', value: 120 },
    ],
  },
};

/** `device-0001` … : zero-padded to at least four digits. */
export function deviceIdFor(index: number, total: number): string {
  const width = Math.max(4, String(total).length);
  return `device-${String(index).padStart(width, '0')}`;
}

/** Most devices run `baseline`, every fourth `strict`, a few `kiosk`. */
export function policyNameFor(index: number): string {
  if (index % 4 === 0) return 'strict';
  if (index % 10 === 7) return 'kiosk';
  return 'baseline';
}

export class DeviceRegistry {
  private devices = new Map<string, DeviceRecord>();
  private order: string[] = [];

  constructor(count: number, nowIso: string) {
    this.populate(count, nowIso);
  }

  /** Replaces every device with `count` fresh, never-written ones. */
  populate(count: number, nowIso: string): void {
    this.devices = new Map();
    this.order = [];
    for (let index = 1; index <= count; index++) this.add(deviceIdFor(index, count), nowIso);
  }

  /**
   * Registers devices with ids of the caller's choice (any string IoT Hub or a hostile registry might hold),
   * after the existing ones; an id already registered is left as it is.
   */
  register(deviceIds: readonly string[], nowIso: string): void {
    for (const deviceId of deviceIds) if (!this.devices.has(deviceId)) this.add(deviceId, nowIso);
  }

  private add(deviceId: string, nowIso: string): void {
    const index = this.order.length + 1;
    const policyName = policyNameFor(index);
    this.order.push(deviceId);
    this.devices.set(deviceId, {
      deviceId,
      policyName,
      policy: null,
      policySystemData: null,
      policyResourceFields: {},
      armWrites: 0,
      twinWrites: 0,
      twin: {
        version: 1,
        tags: { securityPolicy: policyName, site: index % 2 === 0 ? 'plant-north' : 'plant-south' },
        desired: {},
        desiredVersion: 1,
        desiredUpdatedAt: nowIso,
        desiredMetadata: {},
        reported: { firmwareVersion: '1.4.2' },
        reportedVersion: 1,
        reportedUpdatedAt: nowIso,
      },
      connectionState: 'Connected',
      connectionStateUpdatedAt: nowIso,
    });
  }

  get(deviceId: string): DeviceRecord | undefined {
    return this.devices.get(deviceId);
  }

  list(): DeviceRecord[] {
    return this.order.map((id) => this.devices.get(id)).filter((device) => device !== undefined);
  }

  /**
   * Changes a device's stored policy behind the product's back (drift): the securityPolicies resource, or
   * the twin's desired `securityPolicy` (a new desired version). Not counted as a write. null removes it.
   */
  tamper(deviceId: string, document: JsonObject | null, target: 'arm' | 'twin', nowIso: string): void {
    const device = this.devices.get(deviceId);
    if (!device) throw new RangeError(`no device '${deviceId}' in the hub`);
    if (target === 'arm') {
      device.policy = document === null ? null : structuredClone(document);
      return;
    }
    const { twin } = device;
    const { securityPolicy: _previous, ...rest } = twin.desired;
    setDesired(
      twin,
      document === null ? rest : { ...rest, securityPolicy: structuredClone(document) },
      nowIso,
    );
    twin.version++;
  }

  /** The inventory as DEVICES_FILE carries it. */
  inventory(): { deviceId: string; policy: string }[] {
    return this.list().map((device) => ({ deviceId: device.deviceId, policy: device.policyName }));
  }
}

/**
 * A new desired section: its $version moves, and so does the metadata of each top-level property whose value
 * changed (or appeared); a property removed loses its metadata.
 */
export function setDesired(twin: TwinState, desired: JsonObject, nowIso: string): void {
  const previous = twin.desired;
  twin.desired = desired;
  twin.desiredVersion++;
  twin.desiredUpdatedAt = nowIso;
  const metadata: Record<string, DesiredPropertyMetadata> = {};
  for (const key of Object.keys(desired)) {
    const unchanged =
      Object.hasOwn(previous, key) && JSON.stringify(previous[key]) === JSON.stringify(desired[key]);
    const kept =
      unchanged && Object.hasOwn(twin.desiredMetadata, key) ? twin.desiredMetadata[key] : undefined;
    Object.defineProperty(metadata, key, {
      value: kept ?? { lastUpdated: nowIso, lastUpdatedVersion: twin.desiredVersion },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  twin.desiredMetadata = metadata;
}

/** The desired section's `$metadata` as IoT Hub renders it. */
function desiredMetadataOf(twin: TwinState): JsonObject {
  const rendered: JsonObject = {
    $lastUpdated: twin.desiredUpdatedAt,
    $lastUpdatedVersion: twin.desiredVersion,
  };
  for (const [key, { lastUpdated, lastUpdatedVersion }] of Object.entries(twin.desiredMetadata))
    Object.defineProperty(rendered, key, {
      value: { $lastUpdated: lastUpdated, $lastUpdatedVersion: lastUpdatedVersion },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return rendered;
}

/** IoT Hub's twin etag: the twin version as a big-endian 64-bit integer in base64. */
export function twinEtag(version: number): string {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(version));
  return buffer.toString('base64');
}

/** The twin as GET /twins/{id} returns it. */
export function renderTwin(device: DeviceRecord): JsonObject {
  const { twin } = device;
  return {
    deviceId: device.deviceId,
    etag: twinEtag(twin.version),
    deviceEtag: Buffer.from(`${device.deviceId}:1`).toString('base64'),
    status: 'enabled',
    statusUpdateTime: '0001-01-01T00:00:00Z',
    connectionState: device.connectionState,
    lastActivityTime: '0001-01-01T00:00:00Z',
    cloudToDeviceMessageCount: 0,
    authenticationType: 'sas',
    x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    modelId: '',
    version: twin.version,
    tags: structuredClone(twin.tags),
    properties: {
      desired: {
        ...structuredClone(twin.desired),
        $metadata: desiredMetadataOf(twin),
        $version: twin.desiredVersion,
      },
      reported: {
        ...structuredClone(twin.reported),
        $metadata: { $lastUpdated: twin.reportedUpdatedAt },
        $version: twin.reportedVersion,
      },
    },
    capabilities: { iotEdge: false },
  };
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RFC 7386 JSON merge patch, as IoT Hub applies it to tags and desired properties: null removes a key.
 * Keys are defined, not assigned, so '__proto__' stays a key like any other.
 */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) {
      delete result[key];
      continue;
    }
    const current = Object.hasOwn(result, key) ? result[key] : undefined;
    const merged = isJsonObject(value)
      ? mergePatch(isJsonObject(current) ? current : {}, value)
      : structuredClone(value);
    Object.defineProperty(result, key, {
      value: merged,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return result;
}

export function jsonByteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** A parsed `SELECT * | <path> [AS alias], … FROM devices [WHERE a = 'x' AND b = 'y']`. */
export interface DeviceQuery {
  /** The projected columns; undefined for `SELECT *` (whole twins). */
  projection?: { path: string[]; name: string }[];
  conditions: { path: string[]; value: string | number | boolean }[];
}

const pathPattern = String.raw`[A-Za-z$][\w$]*(?:\.[A-Za-z$][\w$]*)*`;

/**
 * The subset of IoT Hub's query language the emulator understands; undefined for anything else. An
 * un-aliased column is named after the last segment of its path, as IoT Hub names it.
 */
export function parseDeviceQuery(text: string): DeviceQuery | undefined {
  const match = /^\s*select\s+(.+?)\s+from\s+devices(?:\s+where\s+(.+?))?\s*$/is.exec(text);
  if (!match?.[1]) return undefined;
  const projection = parseProjection(match[1]);
  if (projection === 'invalid') return undefined;
  const where = match[2];
  const conditions: DeviceQuery['conditions'] = [];
  for (const clause of where ? where.split(/\s+and\s+/i) : []) {
    const condition = new RegExp(
      String.raw`^\s*(${pathPattern})\s*=\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false)\s*$`,
      'i',
    ).exec(clause);
    if (!condition?.[1] || !condition[2]) return undefined;
    const literal = condition[2];
    const value = literal.startsWith("'")
      ? literal.slice(1, -1).replace(/''/g, "'")
      : /^(true|false)$/i.test(literal)
        ? literal.toLowerCase() === 'true'
        : Number(literal);
    conditions.push({ path: condition[1].split('.'), value });
  }
  return projection ? { projection, conditions } : { conditions };
}

function parseProjection(list: string): DeviceQuery['projection'] | 'invalid' {
  if (list.trim() === '*') return undefined;
  const columns: NonNullable<DeviceQuery['projection']> = [];
  for (const item of list.split(',')) {
    const column = new RegExp(String.raw`^\s*(${pathPattern})(?:\s+as\s+([A-Za-z_][\w]*))?\s*$`, 'i').exec(
      item,
    );
    if (!column?.[1]) return 'invalid';
    const path = column[1].split('.');
    columns.push({ path, name: column[2] ?? path[path.length - 1] ?? column[1] });
  }
  return columns;
}

function valueAt(document: unknown, path: readonly string[]): unknown {
  let current = document;
  for (const segment of path) current = isJsonObject(current) ? current[segment] : undefined;
  return current;
}

/** A twin as the projection shows it; a path the twin does not have is left out of the row. */
export function projectTwin(
  twin: JsonObject,
  projection: NonNullable<DeviceQuery['projection']>,
): JsonObject {
  const row: JsonObject = {};
  for (const { path, name } of projection) {
    const value = valueAt(twin, path);
    if (value !== undefined) row[name] = structuredClone(value);
  }
  return row;
}

export function twinMatches(twin: JsonObject, query: DeviceQuery): boolean {
  return query.conditions.every(({ path, value }) => valueAt(twin, path) === value);
}
