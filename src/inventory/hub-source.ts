/**
 * INVENTORY_SOURCE=hub: the hub's device twins through the query API, page by page
 * (x-ms-max-item-count, x-ms-continuation); tags.securityPolicy names each device's policy.
 */
import { z } from 'zod';
import { classifyAzureError } from '../azure/errors';
import { refusalOf, sendAuthorized, type HttpClient } from '../azure/http';
import { abortableSleep } from '../azure/pacing';
import { headerValue } from '../azure/throttling';
import type { TokenProvider } from '../azure/token-provider';
import { TWIN_API_VERSION } from '../azure/twin-policy-writer';
import { FailureType } from '../domain/failure-codes';
import type { RawDeviceRow } from './devices-file';

export interface HubDeviceQueryOptions {
  http: HttpClient;
  /** IoT Hub-scoped tokens. */
  tokens: TokenProvider;
  /** host[:port] of the hub's data plane. */
  hubHost: string;
  /** @default 'SELECT * FROM devices' */
  query?: string;
  /** Page size asked for. @default 100 */
  pageSize?: number;
  /**
   * A throttled (429) or failing (5xx) page is asked again, with the same continuation, this many times
   * before the query fails: IoT Hub allows only 20 queries a minute per unit, so a large hub is throttled
   * mid-way, and starting over would never finish. @default 8
   */
  pageRetries?: number;
  /** Wait before asking a page again when Azure names no Retry-After. @default 3000, doubling, at most 30 s */
  pageRetryDelayInMs?: number;
  abortSignal?: AbortSignal;
}

const twinPageSchema = z.array(
  z.looseObject({
    deviceId: z.unknown(),
    tags: z.looseObject({ securityPolicy: z.unknown() }).nullish(),
  }),
);

/** Reads every device of the hub. Throws AzureRequestError. */
export async function* queryHubDevices(options: HubDeviceQueryOptions): AsyncGenerator<RawDeviceRow> {
  const url = `https://${options.hubHost}/devices/query?api-version=${TWIN_API_VERSION}`;
  const context = { operation: 'querying the hub devices' };
  let continuation: string | undefined;
  let row = 0;
  let retries = 0;
  for (;;) {
    const response = await sendAuthorized(
      options.http,
      options.tokens,
      {
        method: 'POST',
        url,
        json: { query: options.query ?? 'SELECT * FROM devices' },
        headers: {
          'x-ms-max-item-count': String(options.pageSize ?? 100),
          ...(continuation ? { 'x-ms-continuation': continuation } : {}),
        },
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      },
      context,
    );
    if (response.statusCode !== 200) {
      const error = refusalOf(response, context, options.tokens);
      const retryable = error.code === FailureType.Throttled || error.code === FailureType.Transient;
      if (!retryable || retries >= (options.pageRetries ?? 8)) throw error;
      const backoff = Math.min(30_000, (options.pageRetryDelayInMs ?? 3_000) * 2 ** retries);
      retries += 1;
      // loadInventory has a 10-minute budget: no single wait may eat it.
      await abortableSleep(Math.min(error.retryAfterInMs ?? backoff, 60_000), options.abortSignal);
      continue;
    }
    retries = 0;
    const page = twinPageSchema.safeParse(response.body);
    if (!page.success) {
      throw classifyAzureError(
        { error: new Error('the device query returned something other than an array of twins') },
        context,
      );
    }
    for (const twin of page.data) {
      row += 1;
      const policy = twin.tags?.securityPolicy;
      yield { row, deviceId: twin.deviceId, ...(policy === undefined ? {} : { policy }) };
    }
    continuation = headerValue(response.headers, 'x-ms-continuation') || undefined;
    if (!continuation) return;
  }
}
