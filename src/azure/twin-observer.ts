/**
 * Observing the twin target: IoT Hub's device query projecting each twin's desired (and reported)
 * securityPolicy, page by page (x-ms-continuation), paced under the hub's query throttle; or, where the
 * hub cannot run the query, one twin GET per device.
 */
import { z } from 'zod';
import { HUB_DEVICE_QUERIES_PER_MINUTE } from '../domain/compliance-assessment';
import { unreadable } from './observation';
import { deviceResourceUrl } from './device-url';
import type { AzureRequestError, ClassifyContext } from './errors';
import { refusalOf, type HttpClient } from './http';
import {
  pagedListing,
  sendPaced,
  waitToRetry,
  type ObservationOptions,
  type ObservedDevice,
} from './observation';
import { WritePacer } from './pacing';
import { isRecord, type PolicyDocument } from './policy-writer';
import { headerValue } from './throttling';
import type { TokenProvider } from './token-provider';
import { TWIN_API_VERSION, TWIN_POLICY_PROPERTY, withoutMetadata } from './twin-policy-writer';

/**
 * Aliased, since un-aliased columns are named after their last segment and the two policies would collide.
 * `policyVersion` is the desired `$version` at which securityPolicy last took its current value (IoT Hub's
 * per-property `$lastUpdatedVersion`): what a device's `av` must reach for its answer to be about that value.
 */
export const OBSERVATION_QUERY =
  `SELECT deviceId, properties.desired.${TWIN_POLICY_PROPERTY} AS desiredPolicy, ` +
  `properties.reported.${TWIN_POLICY_PROPERTY} AS reportedPolicy, properties.desired.$version AS desiredVersion, ` +
  `properties.desired.$metadata.${TWIN_POLICY_PROPERTY}.$lastUpdatedVersion AS policyVersion, ` +
  'connectionState, etag FROM devices';

/** IoT Hub S1 and S2 allow 20 device queries per minute per unit. */
export const DEFAULT_QUERIES_PER_MINUTE = HUB_DEVICE_QUERIES_PER_MINUTE;

export interface TwinObserverOptions extends ObservationOptions {
  http: HttpClient;
  /** IoT Hub-scoped tokens (IOT_HUB_SCOPE). */
  tokens: TokenProvider;
  /** host[:port] of the hub's data plane. */
  hubHost: string;
  /** Rows asked per page (the hub may send fewer). @default 1000 */
  pageSize?: number;
  /**
   * Paces the queries (one per page); share one per process. @default a pacer of its own at
   * DEFAULT_QUERIES_PER_MINUTE
   */
  queryPacer?: WritePacer;
  /** Paces the per-device twin GETs of the fallback; none when omitted. */
  readPacer?: WritePacer;
  /** Hears each page read (one device query each), e.g. to space the next read within the query budget. */
  onPage?: () => void;
}

/** A pacer for device queries: a minute's budget at once, then one query every 60/n seconds. */
export function createQueryPacer(queriesPerMinute = DEFAULT_QUERIES_PER_MINUTE): WritePacer {
  return new WritePacer({
    burst: queriesPerMinute,
    refillPerSecond: queriesPerMinute / 60,
    reserve: 0,
    remainingHeader: undefined,
    assumeLimits: true,
  });
}

const rowSchema = z.looseObject({
  deviceId: z.string().min(1),
  desiredPolicy: z.unknown().optional(),
  reportedPolicy: z.unknown().optional(),
  desiredVersion: z.number().optional(),
  policyVersion: z.number().optional(),
  connectionState: z.string().optional(),
  etag: z.string().optional(),
});

function policyOf(value: unknown): PolicyDocument | null {
  const stripped = withoutMetadata(value);
  return isRecord(stripped) ? stripped : null;
}

/**
 * Every device of the hub (the query lists every twin, with a policy or not), as `{ deviceId, document,
 * etag, desiredVersion, policyVersion, reported, connectionState }`. Throws AzureRequestError, or
 * ObservationUnsupportedError when the hub cannot run the query.
 */
export function observeTwinPolicies(options: TwinObserverOptions): AsyncGenerator<ObservedDevice> {
  const url = `https://${options.hubHost}/devices/query?api-version=${TWIN_API_VERSION}`;
  const context: ClassifyContext = { operation: 'querying the device twins', target: 'twin' };
  return pagedListing<ObservedDevice>(
    {
      http: options.http,
      tokens: options.tokens,
      context,
      pacer: options.queryPacer ?? createQueryPacer(),
      target: 'twin',
      request: (continuation) => ({
        method: 'POST',
        url,
        json: { query: OBSERVATION_QUERY },
        headers: {
          'x-ms-max-item-count': String(options.pageSize ?? 1000),
          ...(continuation ? { 'x-ms-continuation': continuation } : {}),
        },
      }),
      read: (response) => {
        const rows = z.array(rowSchema).safeParse(response.body);
        if (!rows.success) throw unreadable(context, 'a query page that is not an array of device rows');
        options.onPage?.();
        const items = rows.data.map((row): ObservedDevice => ({
          deviceId: row.deviceId,
          document: policyOf(row.desiredPolicy),
          ...(row.etag === undefined ? {} : { etag: row.etag }),
          ...(row.desiredVersion === undefined ? {} : { desiredVersion: row.desiredVersion }),
          ...(row.policyVersion === undefined ? {} : { policyVersion: row.policyVersion }),
          ...(row.reportedPolicy === undefined ? {} : { reported: withoutMetadata(row.reportedPolicy) }),
          ...(row.connectionState === undefined ? {} : { connectionState: row.connectionState }),
        }));
        const continuation = headerValue(response.headers, 'x-ms-continuation') || undefined;
        return continuation ? { items, continuation } : { items };
      },
      // A bad request of our own fixed query (not its api-version): the hub cannot parse it.
      unsupported: (response, error) =>
        (response.statusCode === 400 && error.code === 'InvalidPolicy') ||
        response.statusCode === 404 ||
        response.statusCode === 405 ||
        response.statusCode === 501,
      key: (item) => item.deviceId,
    },
    options,
  );
}

/**
 * One device's twin by its own GET (the fallback where the hub cannot run the query): the observation, or
 * 'notInHub' for 404. Retried like a query page.
 */
export async function observeTwinPolicy(
  options: TwinObserverOptions,
  deviceId: string,
): Promise<ObservedDevice | 'notInHub'> {
  const url = deviceResourceUrl(
    `https://${options.hubHost}/twins`,
    deviceId,
    `api-version=${TWIN_API_VERSION}`,
  );
  const context: ClassifyContext = { operation: 'reading the device twin', deviceId, target: 'twin' };
  const channel = {
    http: options.http,
    tokens: options.tokens,
    context,
    ...(options.readPacer ? { pacer: options.readPacer } : {}),
  };
  let refusedAtInMs: number | undefined;
  for (let retries = 0; ; retries++) {
    const sent = await sendPaced(channel, { method: 'GET', url }, options.abortSignal, refusedAtInMs);
    let failure: AzureRequestError | undefined = sent.failure;
    if (sent.response?.statusCode === 200) {
      const twin = sent.response.body;
      const properties = isRecord(twin) && isRecord(twin.properties) ? twin.properties : {};
      const desired = isRecord(properties.desired) ? properties.desired : {};
      const reported = isRecord(properties.reported) ? properties.reported : {};
      return {
        deviceId,
        document: policyOf(desired[TWIN_POLICY_PROPERTY]),
        ...(isRecord(twin) && typeof twin.etag === 'string' ? { etag: twin.etag } : {}),
        ...(typeof desired.$version === 'number' ? { desiredVersion: desired.$version } : {}),
        ...policyVersionOf(desired.$metadata),
        ...(reported[TWIN_POLICY_PROPERTY] === undefined
          ? {}
          : { reported: withoutMetadata(reported[TWIN_POLICY_PROPERTY]) }),
        ...(isRecord(twin) && typeof twin.connectionState === 'string'
          ? { connectionState: twin.connectionState }
          : {}),
      };
    }
    if (sent.response) {
      if (sent.response.statusCode === 404) return 'notInHub';
      failure = refusalOf(sent.response, context, options.tokens);
    }
    if (!failure) throw new Error('a read ended with neither an answer nor an error');
    refusedAtInMs = failure.code === 'AuthorizationFailed' ? Date.now() : undefined;
    await waitToRetry(failure, retries, options);
  }
}

/** `{ policyVersion }` from the desired section's `$metadata`, or nothing when it does not say. */
function policyVersionOf(metadata: unknown): { policyVersion?: number } {
  const entry = isRecord(metadata) ? metadata[TWIN_POLICY_PROPERTY] : undefined;
  const version = isRecord(entry) ? entry.$lastUpdatedVersion : undefined;
  return typeof version === 'number' ? { policyVersion: version } : {};
}
