/**
 * INVENTORY_SOURCE=hub: the hub's device twins through the query API, page by page
 * (x-ms-max-item-count, x-ms-continuation); tags.securityPolicy names each device's policy.
 */
import { z } from 'zod';
import { classifyAzureError } from '../azure/errors';
import { sendAuthorized, type HttpClient } from '../azure/http';
import { headerValue } from '../azure/throttling';
import type { TokenProvider } from '../azure/token-provider';
import { TWIN_API_VERSION } from '../azure/twin-policy-writer';
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
  do {
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
      const error = classifyAzureError(response, context);
      if (response.statusCode === 401 || response.statusCode === 403)
        options.tokens.invalidate(response.token);
      throw error;
    }
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
  } while (continuation);
}
