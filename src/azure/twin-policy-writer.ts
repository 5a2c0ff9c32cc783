/**
 * What works on public Azure: the policy as the device twin's desired property `securityPolicy`,
 * GET then PATCH https://{IOT_HUB_HOST}/twins/{deviceId}?api-version=2021-04-12 with If-Match.
 */
import { z } from 'zod';
import { FailureType } from '../domain/failure-codes';
import { deviceResourceUrl } from './device-url';
import { AzureRequestError, type ClassifyContext } from './errors';
import { refusalOf, sendAuthorized, type AuthorizedResponse, type HttpClient } from './http';
import { jsonDepth, MAX_POLICY_DEPTH } from '../domain/json-depth';
import { acquireOrThrottle, type WritePacer } from './pacing';
import { sendThroughGate, type AuthorizationGate } from './authorization-gate';
import { assertPolicyDepth } from './policy-depth';
import {
  isRecord,
  jsonEqual,
  tokenAfter,
  type PolicyDocument,
  type PolicyWriter,
  type WritePolicyOptions,
  type WritePolicyResult,
} from './policy-writer';
import type { TokenProvider } from './token-provider';

export const TWIN_API_VERSION = '2021-04-12';
export const TWIN_POLICY_PROPERTY = 'securityPolicy';

export interface TwinPolicyWriterOptions {
  http: HttpClient;
  /** IoT Hub-scoped tokens (IOT_HUB_SCOPE). */
  tokens: TokenProvider;
  /** host[:port] of the hub's data plane. */
  hubHost: string;
  /** Worker-wide pacing of twin updates (twin-pacing.ts: below the hub's rate, slower after 429s); none when omitted. */
  writePacer?: WritePacer;
  /** The worker's authorization gate for the hub's data plane; none when omitted. */
  gate?: AuthorizationGate;
}

const twinSchema = z.object({
  etag: z.string().optional(),
  properties: z.object({ desired: z.record(z.string(), z.unknown()).optional() }).optional(),
});

/** Removes twin metadata ($metadata, $version) at any depth. */
export function withoutMetadata(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMetadata);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([k]) => !k.startsWith('$'))
      .map(([k, v]) => [k, withoutMetadata(v)]),
  );
}

/**
 * Sets `key` as an own property: plain assignment of '__proto__' would set the object's prototype instead
 * and the key would vanish from the JSON sent.
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The desired-property patch that turns `current` into `desired`: twin PATCH merges objects, so keys
 * that must disappear are sent as null. Recurses only where both hold an object, so no deeper than
 * `desired`. Pure.
 */
export function twinMergePatch(current: unknown, desired: PolicyDocument): PolicyDocument {
  const patch: PolicyDocument = {};
  const currentObject = isRecord(current) ? current : {};
  for (const [key, value] of Object.entries(desired)) {
    const before = Object.hasOwn(currentObject, key) ? currentObject[key] : undefined;
    setOwn(patch, key, isRecord(value) && isRecord(before) ? twinMergePatch(before, value) : value);
  }
  for (const key of Object.keys(currentObject)) {
    if (!Object.hasOwn(desired, key) && !key.startsWith('$')) setOwn(patch, key, null);
  }
  return patch;
}

function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}

/** Writes policies to device twins; throws AzureRequestError. */
export class TwinPolicyWriter implements PolicyWriter {
  readonly target = 'twin' as const;
  readonly gate: AuthorizationGate | undefined;

  constructor(private readonly options: TwinPolicyWriterOptions) {
    this.gate = options.gate;
  }

  twinUrl(deviceId: string): string {
    return deviceResourceUrl(
      `https://${this.options.hubHost}/twins`,
      deviceId,
      `api-version=${TWIN_API_VERSION}`,
    );
  }

  async writePolicy(options: WritePolicyOptions): Promise<WritePolicyResult> {
    const { deviceId, document, abortSignal, gateWait } = options;
    assertPolicyDepth(document, deviceId);
    const url = this.twinUrl(deviceId);
    const signal = abortSignal ? { abortSignal } : {};
    const gated = (context: ClassifyContext) => ({
      context,
      ...signal,
      ...(gateWait === undefined ? {} : { wait: gateWait }),
    });
    const readContext: ClassifyContext = { operation: 'reading the device twin', deviceId, target: 'twin' };
    const writeContext: ClassifyContext = { operation: 'updating the device twin', deviceId, target: 'twin' };

    for (let round = 1; round <= 2; round++) {
      const read = await sendThroughGate(this.gate, gated(readContext), () =>
        sendAuthorized(
          this.options.http,
          this.options.tokens,
          { method: 'GET', url, ...signal },
          readContext,
          tokenAfter(options),
        ),
      );
      if (read.statusCode !== 200) throw refusalOf(read, readContext, this.options.tokens);
      const parsed = twinSchema.safeParse(read.body);
      if (!parsed.success) {
        throw new AzureRequestError({
          code: FailureType.Transient,
          statusCode: read.statusCode,
          deviceId,
          message: `Reading the device twin of device '${deviceId}' returned an unexpected body; will retry.`,
        });
      }
      const held = parsed.data.properties?.desired?.[TWIN_POLICY_PROPERTY];
      // What the twin holds is walked only when it could equal the document: the merge patch below
      // recurses no deeper than the document, whatever the twin holds.
      const comparable = jsonDepth(held, 2 * MAX_POLICY_DEPTH) <= 2 * MAX_POLICY_DEPTH;
      const stored = comparable ? withoutMetadata(held) : held;
      if (comparable && jsonEqual(stored, document)) return { status: 'unchanged' };

      const patch = { properties: { desired: { [TWIN_POLICY_PROPERTY]: twinMergePatch(stored, document) } } };
      const headers: Record<string, string> = parsed.data.etag
        ? { 'if-match': quoteEtag(parsed.data.etag) }
        : {};
      const pacer = this.options.writePacer;
      const written = await sendThroughGate(this.gate, gated(writeContext), async () => {
        if (pacer) await acquireOrThrottle(pacer, abortSignal, deviceId);
        let answer: AuthorizedResponse | undefined;
        try {
          answer = await sendAuthorized(
            this.options.http,
            this.options.tokens,
            { method: 'PATCH', url, headers, json: patch, ...signal },
            writeContext,
            tokenAfter(options),
          );
          return answer;
        } finally {
          pacer?.release(answer);
        }
      });
      if (written.statusCode >= 200 && written.statusCode < 300) return { status: 'succeeded' };
      // Someone changed the twin between our read and write: read again, once.
      if (written.statusCode === 412 && round === 1) continue;
      throw refusalOf(written, writeContext, this.options.tokens);
    }
    throw new AzureRequestError({
      code: FailureType.Transient,
      statusCode: 412,
      deviceId,
      message: `Updating the device twin of device '${deviceId}': the twin kept changing under us (412 twice); will retry.`,
    });
  }
}
