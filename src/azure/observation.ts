/**
 * Bulk observation of the fleet: what each device holds now, read by pages (ARM's list, IoT Hub's device
 * query) instead of one GET per device. The shared paging loop: paced, retried like the writes (429
 * Retry-After; 403 while a role propagates, with a fresh token), a failed page asked again at its own
 * continuation, an expired continuation starting the listing over (bounded).
 */
import { AzureRequestError, isAzureRequestError, type AzureErrorCode, type ClassifyContext } from './errors';
import {
  refusalOf,
  sendAuthorized,
  type AuthorizedResponse,
  type HttpClient,
  type HttpRequest,
} from './http';
import { abortableSleep, type WritePacer } from './pacing';
import { sendThroughGate, type AuthorizationGate } from './authorization-gate';
import { comparableArmDocument, observedArmPolicy } from './arm-policy-resource';
import { isRecord, type PolicyDocument } from './policy-writer';
import type { TokenProvider } from './token-provider';

/** One device as a bulk read saw it. */
export interface ObservedDevice {
  deviceId: string;
  /**
   * The policy the device holds, as it compares to the desired document (ARM: the resource's properties;
   * twin: desired.securityPolicy without metadata); null when it holds none.
   */
  document: PolicyDocument | null;
  /**
   * ARM: the resource as listed (envelope), so the policy can be put in the desired document's own form
   * (bare or ARM's resource form) before comparing: see comparableObservation.
   */
  resource?: Record<string, unknown>;
  /** Twin: the twin's etag. */
  etag?: string;
  /** Twin: the desired properties' $version. */
  desiredVersion?: number;
  /**
   * Twin: the desired $version at which securityPolicy last took its current value
   * (`$metadata.securityPolicy.$lastUpdatedVersion`); absent where the hub does not say.
   */
  policyVersion?: number;
  /** Twin: reported.securityPolicy, as the device reports it. */
  reported?: unknown;
  /** Twin: Connected or Disconnected. */
  connectionState?: string;
}

/**
 * The hub refuses the bulk read itself (ARM: no list on the collection; IoT Hub: a query it cannot run):
 * callers fall back to one read per device, and say so once.
 */
export class ObservationUnsupportedError extends Error {
  override readonly name = 'ObservationUnsupportedError';
  readonly code = 'ObservationUnsupported';
  constructor(
    readonly target: 'arm' | 'twin',
    readonly statusCode: number,
    readonly azureCode: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function isObservationUnsupportedError(error: unknown): error is ObservationUnsupportedError {
  return error instanceof Error && error.name === 'ObservationUnsupportedError';
}

/** Retries, pacing and restarts of a bulk read. */
export interface ObservationOptions {
  /**
   * A throttled, failing or refused (403 while a role propagates) page is asked again, at its own
   * continuation, this many times in a row before the read fails. @default 8
   */
  pageRetries?: number;
  /** Wait before asking a page again when Azure names no Retry-After; doubles, at most 30 s. @default 1000 */
  retryDelayInMs?: number;
  /** An expired continuation starts the listing over at most this many times. @default 3 */
  restarts?: number;
  /**
   * While the hub's authorization gate is probing, a page refused with 403 is asked again as soon as the gate
   * lets it (the gate paces the probes), this many times in all before the read fails. @default 240
   */
  gatedAuthorizationRetries?: number;
  abortSignal?: AbortSignal;
}

/** How one bulk read is asked and understood. */
export interface PagedListing<T> extends ObservationChannel {
  /** The request for the page at `continuation` (undefined: the first page). */
  request(continuation: string | undefined): HttpRequest;
  /** The items and the next continuation of a 200 answer; throws AzureRequestError on a body it cannot read. */
  read(response: AuthorizedResponse): { items: T[]; continuation?: string };
  /** Whether a refusal of the first page means the hub does not offer this bulk read. */
  unsupported(response: AuthorizedResponse, error: AzureRequestError): boolean;
  /** Items already yielded are not yielded again after a restart. */
  key(item: T): string;
  /** What the target is, for ObservationUnsupportedError. */
  target: 'arm' | 'twin';
}

const retryableCodes = new Set<AzureErrorCode>([
  'Throttled',
  'Transient',
  'AuthorizationFailed',
  'Unauthorized',
]);

/** Where a bulk or single read goes: the HTTP client, the tokens, the pacer of its bucket. */
export interface ObservationChannel {
  http: HttpClient;
  tokens: TokenProvider;
  context: ClassifyContext;
  pacer?: WritePacer;
  /** The worker's authorization gate for the hub (see authorization-gate.ts). */
  gate?: AuthorizationGate;
}

/** One request through the pacer: Azure's answer, or the AzureRequestError of a request that got none. */
export async function sendPaced(
  channel: ObservationChannel,
  request: HttpRequest,
  abortSignal: AbortSignal | undefined,
  /** The last try was refused (403) then: this one carries a token issued after it. */
  refusedAtInMs?: number,
): Promise<
  { response: AuthorizedResponse; failure?: undefined } | { response?: undefined; failure: AzureRequestError }
> {
  try {
    const response = await sendThroughGate(
      channel.gate,
      { context: channel.context, ...(abortSignal ? { abortSignal } : {}) },
      async () => {
        if (channel.pacer) await channel.pacer.acquire(abortSignal);
        let answer: AuthorizedResponse | undefined;
        try {
          answer = await sendAuthorized(
            channel.http,
            channel.tokens,
            { ...request, ...(abortSignal ? { abortSignal } : {}) },
            channel.context,
            refusedAtInMs === undefined ? {} : { tokenIssuedAfterInMs: refusedAtInMs },
          );
          return answer;
        } finally {
          channel.pacer?.release(answer);
        }
      },
    );
    return { response };
  } catch (error) {
    if (!isAzureRequestError(error)) throw error;
    return { failure: error };
  }
}

/**
 * Whether a refused read is asked again at once, the gate pacing it: a 403 while the hub's authorization gate
 * probes (a role assignment settling), within the gated retry budget.
 */
export function retriesThroughGate(
  failure: AzureRequestError,
  gate: AuthorizationGate | undefined,
  gatedRetries: number,
  options: ObservationOptions,
): boolean {
  return (
    failure.code === 'AuthorizationFailed' &&
    gate !== undefined &&
    gate.isProbing() &&
    gatedRetries < (options.gatedAuthorizationRetries ?? 240)
  );
}

/**
 * After the `retries`-th failure in a row: waits (Retry-After, else the doubling backoff) when the failure
 * heals and retries are left, else throws it.
 */
export async function waitToRetry(
  failure: AzureRequestError,
  retries: number,
  options: ObservationOptions,
): Promise<void> {
  if (!retryableCodes.has(failure.code) || retries >= (options.pageRetries ?? 8)) throw failure;
  const backoff = Math.min(30_000, (options.retryDelayInMs ?? 1_000) * 2 ** retries);
  await abortableSleep(Math.min(failure.retryAfterInMs ?? backoff, 60_000), options.abortSignal);
}

/** Runs a paged listing to its end, yielding every item once. Throws AzureRequestError or ObservationUnsupportedError. */
export async function* pagedListing<T>(
  listing: PagedListing<T>,
  options: ObservationOptions = {},
): AsyncGenerator<T> {
  const maxRestarts = options.restarts ?? 3;
  const seen = new Set<string>();
  let continuation: string | undefined;
  let retries = 0;
  let gatedRetries = 0;
  let refusedAtInMs: number | undefined;
  let restarts = 0;
  for (;;) {
    options.abortSignal?.throwIfAborted();
    const sent = await sendPaced(listing, listing.request(continuation), options.abortSignal, refusedAtInMs);
    let failure = sent.failure;
    if (sent.response?.statusCode === 200) {
      const page = listing.read(sent.response);
      retries = 0;
      for (const item of page.items) {
        const key = listing.key(item);
        if (seen.has(key)) continue;
        seen.add(key);
        yield item;
      }
      if (!page.continuation) return;
      continuation = page.continuation;
      continue;
    }
    if (sent.response) {
      const { response } = sent;
      // A continued page refused as a bad request: its continuation expired (or was forgotten). Start over;
      // what was yielded already is not yielded again.
      if (continuation !== undefined && response.statusCode === 400) {
        restarts += 1;
        if (restarts > maxRestarts) {
          throw refusalOf(
            response,
            {
              ...listing.context,
              operation: `${listing.context.operation} (the continuation expired again after ${maxRestarts} fresh starts)`,
            },
            listing.tokens,
          );
        }
        continuation = undefined;
        retries = 0;
        continue;
      }
      failure = refusalOf(response, listing.context, listing.tokens);
      if (continuation === undefined && listing.unsupported(response, failure)) {
        throw new ObservationUnsupportedError(
          listing.target,
          response.statusCode,
          failure.azureCode,
          `${listing.context.operation}: the hub does not offer this bulk read (${response.statusCode}${
            failure.azureCode ? ` ${failure.azureCode}` : ''
          }); each device is read instead.`,
        );
      }
    }
    if (!failure) throw new Error('a page ended with neither an answer nor an error');
    refusedAtInMs = failure.code === 'AuthorizationFailed' ? Date.now() : undefined;
    if (retriesThroughGate(failure, listing.gate, gatedRetries, options)) {
      gatedRetries += 1;
      continue;
    }
    await waitToRetry(failure, retries, options);
    retries += 1;
  }
}

/** A 200 whose body is not what the bulk read's contract promises. */
export function unreadable(context: ClassifyContext, what: string): AzureRequestError {
  return new AzureRequestError({
    code: 'Transient',
    message: `${context.operation}: Azure answered ${what}; try again later.`,
  });
}

/**
 * What a device holds and what it should hold, in one form so they compare like with like: for ARM, the
 * listed resource is put in the form of the desired document (bare, or ARM's resource form with tags…),
 * and the desired document loses the server's own keys. Twins compare as observed. Pure.
 */
export function comparableObservation(
  observed: ObservedDevice,
  desired: PolicyDocument,
): { observed: PolicyDocument | null; desired: PolicyDocument } {
  if (observed.resource === undefined || observed.document === null)
    return { observed: observed.document, desired };
  const inDesiredForm = observedArmPolicy(observed.resource, desired);
  return {
    observed: isRecord(inDesiredForm) ? inDesiredForm : null,
    desired: comparableArmDocument(desired),
  };
}
