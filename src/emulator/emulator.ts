import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOperationCatalog, type CatalogName } from './catalog';
import { createCertificates } from './certificates';
import { DeviceAgents } from './device-agents';
import { deviceFaultProblems } from './device-settings';
import { DeviceRegistry, policyDocuments } from './devices';
import { FaultInjector } from './fault-injector';
import {
  emulatorProfileNames,
  resolveFaultSettings,
  type EmulatorProfileName,
  type FaultOverrides,
} from './fault-settings';
import {
  createHub,
  createPrincipal,
  defaultHubName,
  hubNamePattern,
  type EmulatorHub,
  type EmulatorPrincipal,
} from './identities';
import { collectState, type EmulatorState, type TamperTarget } from './introspection';
import { RequestJournal, type RequestRecord } from './journal';
import { RbacStore } from './rbac';
import { createHttpsServer, createRequestListener, listen } from './server';
import { TokenStore } from './tokens';
import { seedRoleAssignments, type EmulatorWorld } from './world';

export interface EmulatorOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Address to listen on: `0.0.0.0` to be reachable from other containers. @default '127.0.0.1' */
  host?: string;
  /**
   * The name clients reach it by (a DNS name or an IP address): the host of `url`, AZURE_AUTHORITY_HOST,
   * ARM_ENDPOINT, IOT_HUB_HOST and the token issuer, and a subjectAltName of the server certificate
   * (which always also holds localhost and 127.0.0.1). `emulator` as a compose service. @default '127.0.0.1'
   */
  publicHost?: string;
  /**
   * The IoT hub's name (3–50 letters, digits, hyphens): IOT_HUB_NAME, the hub's ARM scope and paths. Tests
   * sharing one Temporal server can each use their own. @default 'hub-emulated'
   */
  hubName?: string;
  /** Number of devices, `device-0001` …. @default 300 */
  devices?: number;
  /** The fault profile. @default 'calm' */
  profile?: EmulatorProfileName;
  /** Seed of every random fault decision. @default 1 */
  seed?: number;
  /** Overrides on top of the profile; each fault (and each of its fields) can be set alone. */
  faults?: FaultOverrides;
  /** `public`: strict public Azure, where securityPolicies does not exist. @default 'seed' */
  catalog?: CatalogName;
  /** Where ca.pem, ca-bundle.pem, devices.json and policies.json go. @default a new temporary directory, removed on close */
  stateDir?: string;
  /** expires_in of issued tokens, in seconds. @default 3600 */
  tokenLifetimeSeconds?: number;
  /**
   * Give the principal, at start, a role assignment at hub scope (securityPolicies read/write/delete,
   * securitySettings read/write, twins read/write), subject to the propagation fault. @default true
   */
  grantOnStart?: boolean;
}

export interface Emulator {
  /** `https://PUBLIC_HOST:PORT` (`https://127.0.0.1:PORT` by default): authority host, ARM endpoint and IoT Hub host at once. */
  readonly url: string;
  readonly port: number;
  readonly caPath: string;
  readonly caPem: string;
  /** The system bundle plus the emulator CA: what NODE_EXTRA_CA_CERTS should name. */
  readonly caBundlePath: string;
  /** The variables that point the product at the emulator. */
  readonly env: Record<string, string>;
  readonly principal: EmulatorPrincipal;
  readonly hub: EmulatorHub;
  /** Same as GET /_emulator/state. */
  state(): EmulatorState;
  /** Same as POST /_emulator/reset: clears writes, counters and the request log, re-creates the start grant. */
  reset(options?: { devices?: number }): void;
  /** Same as POST /_emulator/profile. */
  setProfile(profile: EmulatorProfileName, faults?: FaultOverrides): void;
  /**
   * Same as POST /_emulator/tamper: sets a device's stored policy (`arm`, the default: the securityPolicies
   * resource; `twin`: desired.securityPolicy) without counting a write; null removes it. RangeError for an
   * unknown device.
   */
  tamperPolicy(deviceId: string, document: Record<string, unknown> | null, target?: TamperTarget): void;
  /** Registers devices with the given ids (never written, policy as their position says) and rewrites DEVICES_FILE. */
  registerDevices(deviceIds: readonly string[]): void;
  /**
   * Same as POST /_emulator/devices/reconnect: every Disconnected device connects and answers the desired
   * version it missed. Returns their ids.
   */
  reconnectDevices(): string[];
  /**
   * Same as POST /_emulator/devices/{id}/reset: the device drops its reported securityPolicy and what it
   * applied, and answers again only at the next write. RangeError for an unknown device.
   */
  resetDevice(deviceId: string): void;
  /** Every access token ever issued, for tests that look for leaks. */
  issuedTokens(): string[];
  requestLog(): RequestRecord[];
  close(): Promise<void>;
}

/** Where the system's CAs are when NODE_EXTRA_CA_CERTS does not say. */
const systemBundlePath = '/etc/ssl/certs/ca-certificates.crt';

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings = validateOptions(options);
  const ownsStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'policy-sync-emulator-')));
  await mkdir(stateDir, { recursive: true });

  const certificates = await createCertificates([settings.publicHost]);
  const server = createHttpsServer(certificates.serverKeyPem, certificates.serverChainPem);
  let port: number;
  try {
    port = await listen(server, settings.port, settings.host);
  } catch (error) {
    if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
  const authority = `${isIP(settings.publicHost) === 6 ? `[${settings.publicHost}]` : settings.publicHost}:${port}`;
  const url = `https://${authority}`;

  const devices = new DeviceRegistry(settings.devices, new Date().toISOString());
  const faults = new FaultInjector(settings.seed, settings.profile, options.faults);
  const world: EmulatorWorld = {
    url,
    principal: createPrincipal(),
    hub: createHub(settings.hubName),
    catalog: loadOperationCatalog(settings.catalog),
    tokens: new TokenStore(),
    rbac: new RbacStore(),
    devices,
    agents: new DeviceAgents({
      seed: settings.seed,
      devices,
      settings: () => faults.current.devices,
      now: () => Date.now(),
    }),
    faults,
    journal: new RequestJournal(),
    tokenLifetimeSeconds: settings.tokenLifetimeSeconds,
    grantOnStart: settings.grantOnStart,
    now: () => Date.now(),
  };
  seedRoleAssignments(world);

  const paths = {
    ca: join(stateDir, 'ca.pem'),
    caBundle: join(stateDir, 'ca-bundle.pem'),
    devices: join(stateDir, 'devices.json'),
    policies: join(stateDir, 'policies.json'),
  };
  writeFileSync(paths.ca, certificates.caPem);
  writeFileSync(paths.caBundle, `${readSystemBundle()}${certificates.caPem}`);
  const writeInventory = (): void =>
    writeFileSync(paths.devices, `${JSON.stringify(world.devices.inventory(), null, 2)}\n`);
  writeInventory();
  writeFileSync(paths.policies, `${JSON.stringify(policyDocuments, null, 2)}\n`);

  const controls = {
    state: () => collectState(world),
    reset: (resetOptions: { devices?: number } = {}) => {
      const count = resetOptions.devices ?? world.devices.list().length;
      if (!Number.isInteger(count) || count < 0) throw new RangeError('devices must be a whole number ≥ 0');
      world.devices.populate(count, new Date(world.now()).toISOString());
      world.agents.reset();
      writeInventory();
      seedRoleAssignments(world);
      world.faults.reset();
      world.journal.reset();
      world.tokens.resetCount();
    },
    setProfile: (profile: EmulatorProfileName, faults?: FaultOverrides) => {
      if (!emulatorProfileNames.includes(profile))
        throw new RangeError(`unknown profile '${String(profile)}'`);
      const problems = deviceFaultProblems(resolveFaultSettings(profile, faults).devices);
      if (problems.length > 0) throw new RangeError(problems.join('; '));
      world.faults.setProfile(profile, faults);
      world.agents.sync();
    },
    reconnectDevices: () => world.agents.reconnectDevices(),
    resetDevice: (deviceId: string) => {
      if (!world.agents.resetDevice(deviceId)) throw new RangeError(`no device '${deviceId}'`);
    },
    registerDevices: (deviceIds: readonly string[]) => {
      world.devices.register(deviceIds, new Date(world.now()).toISOString());
      world.agents.sync();
      writeInventory();
    },
    tamperPolicy: (
      deviceId: string,
      document: Record<string, unknown> | null,
      target: TamperTarget = 'arm',
    ) => {
      world.devices.tamper(deviceId, document, target, new Date(world.now()).toISOString());
    },
  };
  server.on('request', createRequestListener(world, controls));

  const { principal, hub } = world;
  const env: Record<string, string> = {
    AZURE_TENANT_ID: principal.tenantId,
    AZURE_CLIENT_ID: principal.clientId,
    AZURE_CLIENT_SECRET: principal.clientSecret,
    AZURE_AUTHORITY_HOST: url,
    AZURE_SUBSCRIPTION_ID: hub.subscriptionId,
    AZURE_RESOURCE_GROUP: hub.resourceGroup,
    IOT_HUB_NAME: hub.name,
    ARM_ENDPOINT: url,
    IOT_HUB_HOST: authority,
    NODE_EXTRA_CA_CERTS: paths.caBundle,
    DEVICES_FILE: paths.devices,
    POLICIES_FILE: paths.policies,
    SERVICE_PRINCIPAL_OBJECT_ID: principal.objectId,
  };

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    caPath: paths.ca,
    caPem: certificates.caPem,
    caBundlePath: paths.caBundle,
    env,
    principal: { ...principal },
    hub: { ...hub },
    state: controls.state,
    reset: controls.reset,
    setProfile: controls.setProfile,
    registerDevices: controls.registerDevices,
    reconnectDevices: controls.reconnectDevices,
    resetDevice: controls.resetDevice,
    tamperPolicy: controls.tamperPolicy,
    issuedTokens: () => world.tokens.all(),
    requestLog: () => world.journal.all(),
    close: () => {
      closing ??= (async () => {
        world.agents.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        if (ownsStateDir) await rm(stateDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

interface ResolvedOptions {
  port: number;
  host: string;
  publicHost: string;
  hubName: string;
  devices: number;
  profile: EmulatorProfileName;
  seed: number;
  catalog: CatalogName;
  tokenLifetimeSeconds: number;
  grantOnStart: boolean;
}

function validateOptions(options: EmulatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    publicHost: options.publicHost ?? '127.0.0.1',
    hubName: options.hubName ?? defaultHubName,
    devices: options.devices ?? 300,
    profile: options.profile ?? 'calm',
    seed: options.seed ?? 1,
    catalog: options.catalog ?? 'seed',
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
    grantOnStart: options.grantOnStart ?? true,
  };
  const problems: string[] = [];
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535)
    problems.push('port must be 0–65535');
  if (!isHostName(resolved.host)) problems.push('host must be an IP address or a DNS name');
  if (!isHostName(resolved.publicHost)) problems.push('publicHost must be an IP address or a DNS name');
  if (!hubNamePattern.test(resolved.hubName))
    problems.push('hubName must be 3–50 letters, digits and hyphens');
  if (!Number.isInteger(resolved.devices) || resolved.devices < 0)
    problems.push('devices must be a whole number ≥ 0');
  if (!emulatorProfileNames.includes(resolved.profile))
    problems.push(`profile must be one of ${emulatorProfileNames.join(', ')}`);
  if (!Number.isFinite(resolved.seed)) problems.push('seed must be a number');
  if (resolved.catalog !== 'seed' && resolved.catalog !== 'public')
    problems.push("catalog must be 'seed' or 'public'");
  if (!(resolved.tokenLifetimeSeconds > 0)) problems.push('tokenLifetimeSeconds must be > 0');
  if (emulatorProfileNames.includes(resolved.profile))
    problems.push(...deviceFaultProblems(resolveFaultSettings(resolved.profile, options.faults).devices));
  if (problems.length > 0) throw new RangeError(`Invalid emulator options: ${problems.join('; ')}`);
  return resolved;
}

/** An IP address (v4 or v6, without brackets) or a DNS name: labels of letters, digits and hyphens. */
export function isHostName(value: string): boolean {
  if (isIP(value) !== 0) return true;
  return (
    value.length <= 253 &&
    value.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
  );
}

/** The CAs this machine already trusts: NODE_EXTRA_CA_CERTS's file if set and readable, else the system bundle. */
function readSystemBundle(): string {
  for (const path of [process.env['NODE_EXTRA_CA_CERTS'], systemBundlePath]) {
    if (!path || !existsSync(path)) continue;
    try {
      const pem = readFileSync(path, 'utf8');
      return pem.endsWith('\n') ? pem : `${pem}\n`;
    } catch {
      // unreadable: try the next candidate
    }
  }
  return '';
}
