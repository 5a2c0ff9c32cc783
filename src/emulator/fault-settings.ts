import { z } from 'zod';
import { defaultDeviceFault, deviceFaultOverridesSchema, type DeviceFault } from './device-settings';
import type { TokenBucketSettings } from './token-bucket';

export type { TokenBucketSettings } from './token-bucket';

/**
 * Role assignment propagation: a new assignment is invisible (not in the permissions list, calls get 403)
 * until `delayMs` after its creation; for `flakyWindowMs` after that moment, `flakyRatio` of the calls it
 * authorizes still get 403 AuthorizationFailed, as Azure's caches converge.
 */
export interface PropagationFault {
  delayMs: number;
  flakyWindowMs: number;
  flakyRatio: number;
}

/**
 * Throttling. ARM: token buckets per principal and subscription (GET takes from reads; PUT, PATCH, POST and
 * DELETE from writes), 429 with Retry-After in seconds. IoT Hub: twin updates per second for the hub.
 * `null` turns a limit off.
 */
export interface ThrottlingFault {
  armWrites: TokenBucketSettings | null;
  armReads: TokenBucketSettings | null;
  twinUpdatesPerSec: number | null;
}

/**
 * Transient failures of ARM and IoT Hub calls (Entra ID is spared), drawn once per request: a dropped
 * connection (socket destroyed, no response), 500, 503 with Retry-After, or (ARM only) a 401 claims
 * challenge as continuous access evaluation sends it, which also revokes the token presented. A token
 * requested with the challenge's claims is not challenged again.
 */
export interface TransientFault {
  error500Ratio: number;
  error503Ratio: number;
  /** Retry-After sent with 503. */
  retryAfterSeconds: number;
  dropConnectionRatio: number;
  unauthorizedChallengeRatio: number;
}

/** Latency added to every Entra ID, ARM and IoT Hub response: `fixedMs` plus up to `jitterMs`. */
export interface LatencyFault {
  fixedMs: number;
  jitterMs: number;
}

/**
 * An Entra ID outage: for `outageMs` after the profile is set (or the emulator starts), the token endpoint
 * answers `outageStatus` with server_error AADSTS50000, as Entra ID does when its sign-in service fails.
 */
export interface EntraFault {
  outageMs: number;
  outageStatus: number;
  /** Retry-After sent with the outage's answers; 0 sends none (MSAL then holds back its requests for 60 s). */
  outageRetryAfterSeconds: number;
}

/**
 * Bulk reads: ARM's list of the hub's securityPolicies and IoT Hub's device query. Page sizes, the query
 * throttle, continuations that expire, and a hub that refuses the bulk read (so clients fall back to
 * per-device reads).
 */
export interface ListingFault {
  /** Items per page of ARM's securityPolicies list (`nextLink` carries the rest). */
  armPageSize: number;
  /** The largest device query page, whatever `x-ms-max-item-count` asks. */
  queryPageCap: number;
  /** IoT Hub's device query throttle for the hub (S1: 20 per minute per unit); null turns it off. */
  queriesPerMinute: number | null;
  /** A continuation (`$skiptoken`, `x-ms-continuation`) older than this is refused with 400; 0: never. */
  continuationTtlMs: number;
  /** ARM refuses the collection GET with 405, as for a resource type without a list operation. */
  armListUnsupported: boolean;
  /** IoT Hub refuses projection queries with 400, as a hub that cannot parse them. */
  queryUnsupported: boolean;
}

export interface FaultSettings {
  propagation: PropagationFault;
  throttling: ThrottlingFault;
  transient: TransientFault;
  latency: LatencyFault;
  entra: EntraFault;
  /** The simulated devices' acknowledgements (device-settings.ts); the same in every profile. */
  devices: DeviceFault;
  listing: ListingFault;
}

/** Overrides on top of a profile: each fault, and each field of a fault, can be set alone. */
export type FaultOverrides = { [K in keyof FaultSettings]?: Partial<FaultSettings[K]> };

export const emulatorProfileNames = ['calm', 'seed', 'throttled', 'hostile'] as const;
export type EmulatorProfileName = (typeof emulatorProfileNames)[number];

const noPropagation: PropagationFault = { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 };
const noThrottling: ThrottlingFault = { armWrites: null, armReads: null, twinUpdatesPerSec: null };
const noTransient: TransientFault = {
  error500Ratio: 0,
  error503Ratio: 0,
  retryAfterSeconds: 1,
  dropConnectionRatio: 0,
  unauthorizedChallengeRatio: 0,
};
const noLatency: LatencyFault = { fixedMs: 0, jitterMs: 0 };
const noEntraOutage: EntraFault = { outageMs: 0, outageStatus: 500, outageRetryAfterSeconds: 0 };
const plainListing: ListingFault = {
  armPageSize: 100,
  queryPageCap: 1000,
  queriesPerMinute: null,
  continuationTtlMs: 0,
  armListUnsupported: false,
  queryUnsupported: false,
};
/** IoT Hub S1's query throttle: 20 per minute per unit (one unit). */
const throttledListing: ListingFault = { ...plainListing, queriesPerMinute: 20 };

/** ARM's documented subscription buckets and IoT Hub's twin update rate. */
const azureThrottling: ThrottlingFault = {
  armWrites: { burst: 200, refillPerSec: 10 },
  armReads: { burst: 250, refillPerSec: 25 },
  twinUpdatesPerSec: 50,
};

/**
 * The named worlds. Timings are kept short so that a 300-device demo ends well within a minute.
 * - calm: nothing goes wrong.
 * - seed: the seed's world: the grant takes 3 s to appear, then 60% of calls still get 403 for 15 s.
 * - throttled: ARM's buckets and IoT Hub's twin rate.
 * - hostile: everything at once, at moderate ratios.
 */
export const emulatorProfiles: Readonly<Record<EmulatorProfileName, FaultSettings>> = {
  calm: {
    propagation: noPropagation,
    throttling: noThrottling,
    transient: noTransient,
    latency: noLatency,
    entra: noEntraOutage,
    devices: defaultDeviceFault,
    listing: plainListing,
  },
  seed: {
    propagation: { delayMs: 3_000, flakyWindowMs: 15_000, flakyRatio: 0.6 },
    throttling: noThrottling,
    transient: noTransient,
    latency: { fixedMs: 2, jitterMs: 8 },
    entra: noEntraOutage,
    devices: defaultDeviceFault,
    listing: plainListing,
  },
  throttled: {
    propagation: noPropagation,
    throttling: azureThrottling,
    transient: noTransient,
    latency: noLatency,
    entra: noEntraOutage,
    devices: defaultDeviceFault,
    listing: throttledListing,
  },
  hostile: {
    propagation: { delayMs: 2_000, flakyWindowMs: 8_000, flakyRatio: 0.3 },
    throttling: azureThrottling,
    transient: {
      error500Ratio: 0.05,
      error503Ratio: 0.05,
      retryAfterSeconds: 1,
      dropConnectionRatio: 0.02,
      unauthorizedChallengeRatio: 0.02,
    },
    latency: { fixedMs: 5, jitterMs: 25 },
    entra: noEntraOutage,
    devices: defaultDeviceFault,
    listing: throttledListing,
  },
};

/** The profile's settings with the overrides applied, field by field. */
export function resolveFaultSettings(
  profile: EmulatorProfileName,
  overrides: FaultOverrides = {},
): FaultSettings {
  const base = emulatorProfiles[profile];
  return {
    propagation: { ...base.propagation, ...overrides.propagation },
    throttling: { ...base.throttling, ...overrides.throttling },
    transient: { ...base.transient, ...overrides.transient },
    latency: { ...base.latency, ...overrides.latency },
    entra: { ...base.entra, ...overrides.entra },
    devices: { ...base.devices, ...overrides.devices },
    listing: { ...base.listing, ...overrides.listing },
  };
}

const ratio = z.number().min(0).max(1);
const milliseconds = z.number().int().min(0).max(3_600_000);
const bucket = z.object({ burst: z.number().min(1), refillPerSec: z.number().min(0) }).strict();

/** Validates overrides that arrive from outside (POST /_emulator/profile, the command line). */
export const faultOverridesSchema = z
  .object({
    propagation: z
      .object({ delayMs: milliseconds, flakyWindowMs: milliseconds, flakyRatio: ratio })
      .strict()
      .partial(),
    throttling: z
      .object({
        armWrites: bucket.nullable(),
        armReads: bucket.nullable(),
        twinUpdatesPerSec: z.number().positive().nullable(),
      })
      .strict()
      .partial(),
    transient: z
      .object({
        error500Ratio: ratio,
        error503Ratio: ratio,
        retryAfterSeconds: z.number().int().min(0).max(3_600),
        dropConnectionRatio: ratio,
        unauthorizedChallengeRatio: ratio,
      })
      .strict()
      .partial(),
    latency: z.object({ fixedMs: milliseconds, jitterMs: milliseconds }).strict().partial(),
    entra: z
      .object({
        outageMs: milliseconds,
        outageStatus: z.number().int().min(429).max(599),
        outageRetryAfterSeconds: z.number().int().min(0).max(3_600),
      })
      .strict()
      .partial(),
    devices: deviceFaultOverridesSchema,
    listing: z
      .object({
        armPageSize: z.number().int().min(1).max(5_000),
        queryPageCap: z.number().int().min(1).max(5_000),
        queriesPerMinute: z.number().positive().nullable(),
        continuationTtlMs: milliseconds,
        armListUnsupported: z.boolean(),
        queryUnsupported: z.boolean(),
      })
      .strict()
      .partial(),
  })
  .strict()
  .partial() satisfies z.ZodType<FaultOverrides>;

export const emulatorProfileNameSchema = z.enum(emulatorProfileNames);
