/**
 * The seed's contract: the policy as an ARM child resource of the hub,
 * GET then PUT {ARM}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Devices/IotHubs/{hub}/securityPolicies/{deviceId}.
 */
import { FailureType } from '../workflows/failure-types';
import { classifyAzureError, type ClassifyContext } from './errors';
import { sendAuthorized, type AuthorizedResponse, type HttpClient } from './http';
import { acquireOrThrottle, type WritePacer } from './pacing';
import {
  encodeDeviceId,
  jsonEqual,
  type PolicyWriter,
  type WritePolicyOptions,
  type WritePolicyResult,
} from './policy-writer';
import type { TokenProvider } from './token-provider';

export interface ArmPolicyWriterOptions {
  http: HttpClient;
  /** ARM-scoped tokens (ARM_SCOPE). */
  tokens: TokenProvider;
  /** e.g. https://management.azure.com */
  armEndpoint: string;
  /** ARM scope of the hub: /subscriptions/…/IotHubs/{hub}. */
  hubScope: string;
  /** @default '2021-07-01' */
  apiVersion?: string;
  /** Worker-wide pacing of ARM writes; none when omitted. */
  writePacer?: WritePacer;
  /** Worker-wide pacing of ARM reads (the GET before each write); none when omitted. */
  readPacer?: WritePacer;
}

/** The stored policy from a GET: the body itself, or `properties` of an ARM resource envelope. */
export function storedArmPolicy(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  const isEnvelope =
    typeof record.id === 'string' &&
    /\/securityPolicies\//i.test(record.id) &&
    typeof record.properties === 'object' &&
    record.properties !== null;
  return isEnvelope ? record.properties : body;
}

/** Writes policies through ARM; throws AzureRequestError. */
export class ArmPolicyWriter implements PolicyWriter {
  readonly target = 'arm' as const;
  private readonly apiVersion: string;

  constructor(private readonly options: ArmPolicyWriterOptions) {
    this.apiVersion = options.apiVersion ?? '2021-07-01';
  }

  policyUrl(deviceId: string): string {
    return (
      `${this.options.armEndpoint.replace(/\/+$/, '')}${this.options.hubScope}` +
      `/securityPolicies/${encodeDeviceId(deviceId)}?api-version=${encodeURIComponent(this.apiVersion)}`
    );
  }

  async writePolicy({ deviceId, document, abortSignal }: WritePolicyOptions): Promise<WritePolicyResult> {
    const url = this.policyUrl(deviceId);
    const readContext: ClassifyContext = {
      operation: 'reading the security policy',
      deviceId,
      target: 'arm',
    };
    const current = await this.paced(this.options.readPacer, abortSignal, deviceId, () =>
      sendAuthorized(
        this.options.http,
        this.options.tokens,
        { method: 'GET', url, ...(abortSignal ? { abortSignal } : {}) },
        readContext,
      ),
    );
    if (current.statusCode === 200) {
      if (jsonEqual(storedArmPolicy(current.body), document)) return { status: 'unchanged' };
    } else if (current.statusCode === 404) {
      // No policy yet is normal; a missing resource type or hub is not.
      const error = classifyAzureError(current, readContext);
      if (error.code !== FailureType.DeviceNotFound) throw error;
    } else {
      throw this.refuse(current, readContext);
    }

    const writeContext: ClassifyContext = {
      operation: 'writing the security policy',
      deviceId,
      target: 'arm',
    };
    const written = await this.paced(this.options.writePacer, abortSignal, deviceId, () =>
      sendAuthorized(
        this.options.http,
        this.options.tokens,
        { method: 'PUT', url, json: document, ...(abortSignal ? { abortSignal } : {}) },
        writeContext,
      ),
    );
    if (written.statusCode >= 200 && written.statusCode < 300) return { status: 'succeeded' };
    throw this.refuse(written, writeContext);
  }

  /** Runs one request through a pacer: wait for its turn, then tell it what Azure answered. */
  private async paced(
    pacer: WritePacer | undefined,
    abortSignal: AbortSignal | undefined,
    deviceId: string,
    send: () => Promise<AuthorizedResponse>,
  ): Promise<AuthorizedResponse> {
    if (!pacer) return send();
    await acquireOrThrottle(pacer, abortSignal, deviceId);
    let response: AuthorizedResponse;
    try {
      response = await send();
    } catch (error) {
      pacer.release(undefined);
      throw error;
    }
    pacer.release(response);
    return response;
  }

  /** Classifies a refusal; a 401/403 also retires the token that was refused, so the retry gets a new one. */
  private refuse(response: AuthorizedResponse, context: ClassifyContext) {
    const error = classifyAzureError(response, context);
    if (response.statusCode === 401 || response.statusCode === 403) {
      this.options.tokens.invalidate(
        response.token,
        error.claims === undefined ? {} : { claims: error.claims },
      );
    }
    return error;
  }
}
