/**
 * The seed's contract: the policy as an ARM child resource of the hub,
 * GET then PUT {ARM}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Devices/IotHubs/{hub}/securityPolicies/{deviceId}.
 */
import { FailureType } from '../domain/failure-codes';
import { deviceResourceUrl } from './device-url';
import { classifyAzureError, type ClassifyContext } from './errors';
import { refusalOf, sendAuthorized, type AuthorizedResponse, type HttpClient } from './http';
import { acquireOrThrottle, type WritePacer } from './pacing';
import { sendThroughGate, type AuthorizationGate } from './authorization-gate';
import { assertPolicyDepth } from './policy-depth';
import { comparableArmDocument, observedArmPolicy } from './arm-policy-resource';
import {
  jsonEqual,
  tokenAfter,
  type PolicyDocument,
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
  /** The worker's authorization gate for the hub's ARM scope; none when omitted. */
  gate?: AuthorizationGate;
}

/**
 * Whether the resource read is the desired document: compared in the document's own form, bare or ARM's
 * resource form (see arm-policy-resource.ts).
 */
export function armPolicyMatches(body: unknown, document: PolicyDocument): boolean {
  return jsonEqual(observedArmPolicy(body, document), comparableArmDocument(document));
}

/** Writes policies through ARM; throws AzureRequestError. */
export class ArmPolicyWriter implements PolicyWriter {
  readonly target = 'arm' as const;
  readonly gate: AuthorizationGate | undefined;
  private readonly apiVersion: string;

  constructor(private readonly options: ArmPolicyWriterOptions) {
    this.apiVersion = options.apiVersion ?? '2021-07-01';
    this.gate = options.gate;
  }

  policyUrl(deviceId: string): string {
    return deviceResourceUrl(
      `${this.options.armEndpoint.replace(/\/+$/, '')}${this.options.hubScope}/securityPolicies`,
      deviceId,
      `api-version=${encodeURIComponent(this.apiVersion)}`,
    );
  }

  async writePolicy(options: WritePolicyOptions): Promise<WritePolicyResult> {
    const { deviceId, document, abortSignal } = options;
    assertPolicyDepth(document, deviceId);
    const url = this.policyUrl(deviceId);
    // A device known to hold no policy is created at once, on the condition that it still holds none: a read
    // would only confirm it, and while a grant settles each request is another chance of a 403.
    const createOnly = options.knownAbsent === true;
    if (!createOnly) {
      const readContext: ClassifyContext = {
        operation: 'reading the security policy',
        deviceId,
        target: 'arm',
      };
      const current = await this.paced(this.options.readPacer, options, readContext, () =>
        sendAuthorized(
          this.options.http,
          this.options.tokens,
          { method: 'GET', url, ...(abortSignal ? { abortSignal } : {}) },
          readContext,
          tokenAfter(options),
        ),
      );
      if (current.statusCode === 200) {
        if (armPolicyMatches(current.body, document)) return { status: 'unchanged' };
      } else if (current.statusCode === 404) {
        // No policy yet is normal; a missing resource type or hub is not.
        const error = classifyAzureError(current, readContext);
        if (error.code !== FailureType.DeviceNotFound) throw error;
      } else {
        throw refusalOf(current, readContext, this.options.tokens);
      }
    }

    const writeContext: ClassifyContext = {
      operation: 'writing the security policy',
      deviceId,
      target: 'arm',
    };
    const written = await this.paced(this.options.writePacer, options, writeContext, () =>
      sendAuthorized(
        this.options.http,
        this.options.tokens,
        {
          method: 'PUT',
          url,
          json: document,
          ...(createOnly ? { headers: { 'if-none-match': '*' } } : {}),
          ...(abortSignal ? { abortSignal } : {}),
        },
        writeContext,
        tokenAfter(options),
      ),
    );
    if (written.statusCode >= 200 && written.statusCode < 300) return { status: 'succeeded' };
    // It holds a policy after all (written since the observation, by us or another): read it and decide.
    if (createOnly && written.statusCode === 412) return this.writePolicy({ ...options, knownAbsent: false });
    throw refusalOf(written, writeContext, this.options.tokens);
  }

  /** Runs one request through the authorization gate and a pacer: wait for its turn, then tell both the answer. */
  private paced(
    pacer: WritePacer | undefined,
    { abortSignal, deviceId, gateWait }: WritePolicyOptions,
    context: ClassifyContext,
    send: () => Promise<AuthorizedResponse>,
  ): Promise<AuthorizedResponse> {
    return sendThroughGate(
      this.gate,
      {
        context,
        ...(abortSignal ? { abortSignal } : {}),
        ...(gateWait === undefined ? {} : { wait: gateWait }),
      },
      () => this.pacedOnly(pacer, abortSignal, deviceId, send),
    );
  }

  private async pacedOnly(
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
}
