/**
 * Observing the arm target: ARM's list of the hub's securityPolicies, page by page (nextLink), or, where
 * the hub offers no list, one GET per device.
 */
import { z } from 'zod';
import { deviceIdOfArmResource, policyFromArmEnvelope } from './arm-envelope';
import { deviceResourceUrl } from './device-url';
import { isRecord } from './policy-writer';
import { classifyAzureError, type AzureRequestError, type ClassifyContext } from './errors';
import { refusalOf, type AuthorizedResponse, type HttpClient } from './http';
import {
  pagedListing,
  sendPaced,
  unreadable,
  waitToRetry,
  type ObservationOptions,
  type ObservedDevice,
} from './observation';
import type { WritePacer } from './pacing';
import type { AuthorizationGate } from './authorization-gate';
import type { TokenProvider } from './token-provider';

export interface ArmObserverOptions extends ObservationOptions {
  http: HttpClient;
  /** ARM-scoped tokens (ARM_SCOPE). */
  tokens: TokenProvider;
  /** e.g. https://management.azure.com */
  armEndpoint: string;
  /** ARM scope of the hub: /subscriptions/…/IotHubs/{hub}. */
  hubScope: string;
  /** @default '2021-07-01' */
  apiVersion?: string;
  /** The worker's ARM read pacer (list pages take from ARM's read bucket like any GET). */
  readPacer?: WritePacer;
  /** The worker's authorization gate for the hub's ARM scope. */
  gate?: AuthorizationGate;
}

const listPageSchema = z.object({
  value: z.array(z.unknown()),
  nextLink: z.string().nullish(),
});

function armObservation(deviceId: string, resource: unknown): ObservedDevice {
  return isRecord(resource)
    ? { deviceId, document: policyFromArmEnvelope(resource), resource }
    : { deviceId, document: policyFromArmEnvelope(resource) };
}

function collectionUrl(options: ArmObserverOptions): string {
  return `${options.armEndpoint.replace(/\/+$/, '')}${options.hubScope}/securityPolicies`;
}

/**
 * Every securityPolicies resource of the hub, as `{ deviceId, document }`. A device without a policy is
 * not listed (ARM lists resources, and it has none): the list alone cannot tell it from a device the hub
 * does not have. Throws AzureRequestError, or ObservationUnsupportedError when the hub refuses the list.
 */
export function observeArmPolicies(options: ArmObserverOptions): AsyncGenerator<ObservedDevice> {
  const apiVersion = options.apiVersion ?? '2021-07-01';
  const firstPage = `${collectionUrl(options)}?api-version=${encodeURIComponent(apiVersion)}`;
  const origin = new URL(firstPage).origin;
  const context: ClassifyContext = { operation: 'listing the hub security policies', target: 'arm' };
  return pagedListing<ObservedDevice>(
    {
      http: options.http,
      tokens: options.tokens,
      context,
      ...(options.readPacer ? { pacer: options.readPacer } : {}),
      ...(options.gate ? { gate: options.gate } : {}),
      target: 'arm',
      request: (continuation) => ({ method: 'GET', url: continuation ?? firstPage }),
      read: (response) => {
        const page = listPageSchema.safeParse(response.body);
        if (!page.success) throw unreadable(context, 'a list page without a value array');
        const nextLink = page.data.nextLink ?? undefined;
        // The token goes wherever nextLink points: only ever back to the same Resource Manager.
        if (nextLink !== undefined && !sameOrigin(nextLink, origin)) {
          throw unreadable(context, `a nextLink outside ${origin}`);
        }
        const items: ObservedDevice[] = [];
        for (const resource of page.data.value) {
          const deviceId = deviceIdOfArmResource(resource);
          if (deviceId === undefined) throw unreadable(context, 'a listed resource without a name');
          items.push(armObservation(deviceId, resource));
        }
        return nextLink === undefined ? { items } : { items, continuation: nextLink };
      },
      unsupported: (response, error) =>
        response.statusCode === 405 || response.statusCode === 501 || error.code === 'TargetUnsupported',
      key: (item) => item.deviceId,
    },
    options,
  );
}

/**
 * One device's policy by its own GET (the fallback where the hub offers no list): the observation, or
 * 'notInHub' when the hub has no such device (404 DeviceNotFound; a device without a policy is 404
 * ResourceNotFound, observed with a null document). Retried like a list page.
 */
export async function observeArmPolicy(
  options: ArmObserverOptions,
  deviceId: string,
): Promise<ObservedDevice | 'notInHub'> {
  const url = deviceResourceUrl(
    collectionUrl(options),
    deviceId,
    `api-version=${encodeURIComponent(options.apiVersion ?? '2021-07-01')}`,
  );
  const channel = {
    http: options.http,
    tokens: options.tokens,
    context: { operation: 'reading the security policy', deviceId, target: 'arm' } as ClassifyContext,
    ...(options.readPacer ? { pacer: options.readPacer } : {}),
    ...(options.gate ? { gate: options.gate } : {}),
  };
  let refusedAtInMs: number | undefined;
  for (let retries = 0; ; retries++) {
    const sent = await sendPaced(channel, { method: 'GET', url }, options.abortSignal, refusedAtInMs);
    if (sent.response?.statusCode === 200) return armObservation(deviceId, sent.response.body);
    let failure: AzureRequestError | undefined = sent.failure;
    if (sent.response) {
      const answer: AuthorizedResponse = sent.response;
      if (answer.statusCode === 404) {
        const missing = classifyAzureError(answer, channel.context);
        if (missing.code === 'DeviceNotFound') {
          return missing.azureCode === 'DeviceNotFound' ? 'notInHub' : { deviceId, document: null };
        }
        throw missing;
      }
      failure = refusalOf(answer, channel.context, options.tokens);
    }
    if (!failure) throw new Error('a read ended with neither an answer nor an error');
    refusedAtInMs = failure.code === 'AuthorizationFailed' ? Date.now() : undefined;
    await waitToRetry(failure, retries, options);
  }
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}
