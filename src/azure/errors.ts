/**
 * The Azure layer's one error type, and the pure classification of what Azure (or the network, or
 * Entra ID) answered into it. Codes are the FailureType values the workflows' retry policies know.
 */
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../domain/failure-codes';
import type { PolicyTarget } from '../domain/policy-target';
import { causeChain } from '../domain/cause-chain';
import { redact } from '../logger';
import { isRecord } from './policy-writer';
import { matchResponseRule } from './response-rules';
import { headerValue, retryAfterInMs, type HeaderBag } from './throttling';

export const AZURE_ERROR_CODES = [
  FailureType.AuthorizationFailed,
  FailureType.Unauthorized,
  FailureType.Throttled,
  FailureType.Transient,
  FailureType.InvalidPolicy,
  FailureType.DeviceNotFound,
  FailureType.TargetUnsupported,
  FailureType.InvalidDeviceId,
  FailureType.Misconfigured,
] as const;
export type AzureErrorCode = (typeof AZURE_ERROR_CODES)[number];

export interface AzureRequestErrorOptions {
  code: AzureErrorCode;
  message: string;
  statusCode?: number;
  deviceId?: string;
  retryAfterInMs?: number;
  /** The error code Azure put in the body or headers (AuthorizationFailed, InvalidResourceType, AADSTS7000215…). */
  azureCode?: string;
  /** A claims challenge from a 401's WWW-Authenticate header (decoded JSON), for the next token request. */
  claims?: string;
  cause?: unknown;
}

/** Thrown by every Azure call of this layer when Azure, Entra ID or the network refuses a request. */
export class AzureRequestError extends Error {
  override readonly name = 'AzureRequestError';
  readonly code: AzureErrorCode;
  readonly statusCode?: number;
  readonly deviceId?: string;
  readonly retryAfterInMs?: number;
  readonly azureCode?: string;
  readonly claims?: string;
  readonly retryable: boolean;

  constructor(options: AzureRequestErrorOptions) {
    super(redact(options.message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    if (options.deviceId !== undefined) this.deviceId = options.deviceId;
    if (options.retryAfterInMs !== undefined) this.retryAfterInMs = options.retryAfterInMs;
    if (options.azureCode !== undefined) this.azureCode = options.azureCode;
    if (options.claims !== undefined) this.claims = options.claims;
    this.retryable = !(NON_RETRYABLE_FAILURE_TYPES as string[]).includes(options.code);
  }

  override toString(): string {
    return redact(
      `${this.name} [${this.code}${this.statusCode ? ` ${this.statusCode}` : ''}]: ${this.message}`,
    );
  }

  /** What logs and failure details may carry: no cause chain, no claims, nothing secret. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      statusCode: this.statusCode,
      deviceId: this.deviceId,
      retryAfterInMs: this.retryAfterInMs,
      azureCode: this.azureCode,
      retryable: this.retryable,
      message: this.message,
    };
  }
}

/** Name-based guard: works across module copies and realms. */
export function isAzureRequestError(error: unknown): error is AzureRequestError {
  return error instanceof Error && error.name === 'AzureRequestError' && 'code' in error;
}

/** What went wrong, for classification: an HTTP answer, or an exception (network, timeout, Entra ID). */
export type AzureFailure =
  | { statusCode: number; headers: HeaderBag; body?: unknown; error?: undefined }
  | { error: unknown; statusCode?: undefined };

export interface ClassifyContext {
  /** What was being done, as a phrase: "writing the security policy", "reading the device twin". */
  operation: string;
  deviceId?: string;
  target?: PolicyTarget;
  /** @default Date.now() */
  nowInMs?: number;
}

/**
 * OAuth errors and AADSTS codes by which Entra ID refuses the credential itself (a wrong or expired secret,
 * an unknown client or tenant, a disabled application): retrying cannot heal them.
 */
const CREDENTIAL_REFUSAL_OAUTH_ERRORS = new Set([
  'invalid_client',
  'unauthorized_client',
  'invalid_grant',
  'invalid_request',
  'invalid_scope',
  'invalid_resource',
  'unsupported_grant_type',
  'access_denied',
]);

/** AADSTS codes of Entra ID's own outages (AADSTS50000: "error issuing a token or an issue with our sign-in service"). */
const ENTRA_OUTAGE_AADSTS = new Set(['AADSTS50000', 'AADSTS90033', 'AADSTS90036', 'AADSTS50196']);

interface EntraAnswer {
  description: string;
  oauthError: string | undefined;
  aadsts: string | undefined;
  statusCode: number | undefined;
  names: unknown[];
}

/**
 * Whether Entra ID's failure is its own (an outage, throttling, the network) and so heals: 'unreachable',
 * 'outage', or false for a refusal of the credential. A 5xx or 429 is an outage, and so is MSAL's cached form
 * of one: after such an answer MSAL refuses further requests itself for a while, throwing a ServerError
 * with the answer's error codes and description but without a status. Only the credential's own refusals
 * (and a configuration MSAL cannot use) are permanent.
 */
export function entraOutage(answer: EntraAnswer): 'unreachable' | 'outage' | false {
  const { description, oauthError, aadsts, statusCode } = answer;
  // MSAL's words for "could not reach the authority" (network, DNS, an untrusted certificate).
  if (
    /endpoints_resolution_error|network_error|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET/i.test(
      `${description} ${oauthError ?? ''}`,
    )
  ) {
    return 'unreachable';
  }
  if (statusCode !== undefined && (statusCode >= 500 || statusCode === 429)) return 'outage';
  if (oauthError === 'server_error' || oauthError === 'temporarily_unavailable') return 'outage';
  if (aadsts !== undefined && ENTRA_OUTAGE_AADSTS.has(aadsts)) return 'outage';
  // MSAL caches only 429 and 5xx answers (or any with Retry-After) and replays them as a status-less
  // ServerError whose errorCode is the answer's numeric error_codes, or empty.
  if (statusCode === undefined && answer.names.includes('ServerError') && /^[\d ]*$/.test(oauthError ?? '')) {
    return 'outage';
  }
  if (answer.names.includes('ClientConfigurationError')) return false;
  if (statusCode !== undefined && statusCode >= 400) return false;
  if (oauthError !== undefined && CREDENTIAL_REFUSAL_OAUTH_ERRORS.has(oauthError)) return false;
  // A refusal names its AADSTS code; no code, no status and no refusal word is not the credential's fault.
  if (aadsts !== undefined) return false;
  return oauthError === undefined || /^[\d ]*$/.test(oauthError) ? 'outage' : false;
}

/** Errors @azure/identity throws when no token could be had. */
const IDENTITY_ERROR_NAMES = new Set([
  'AuthenticationError',
  'AuthenticationRequiredError',
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
]);

const TLS_ERROR_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface AzureErrorBody {
  code?: string;
  message?: string;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Azure's error code and message from any of its body shapes (ARM, IoT Hub data plane, OAuth) or headers. */
export function parseAzureErrorBody(body: unknown, headers: HeaderBag = {}): AzureErrorBody {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return { code: headerValue(headers, 'iothub-errorcode'), message: body.slice(0, 300) || undefined };
    }
  }
  const root = asRecord(parsed) ?? {};
  const armError = asRecord(root.error);
  if (armError) return { code: str(armError.code), message: str(armError.message) };
  // OAuth: { error: 'invalid_client', error_description: 'AADSTS7000215: …' }
  if (str(root.error)) {
    const description = str(root.error_description);
    const aadsts = description?.match(/AADSTS\d+/)?.[0];
    return { code: aadsts ?? str(root.error), message: description ?? str(root.error) };
  }
  // IoT Hub: { Message: 'ErrorCode:DeviceNotFound;…', ExceptionMessage: '…' }
  const hubMessage = str(root.Message) ?? str(root.message);
  const hubCode =
    headerValue(headers, 'iothub-errorcode') ??
    str(root.errorCode) ??
    str(root.code) ??
    hubMessage?.match(/ErrorCode:(\w+)/)?.[1];
  return { code: hubCode, message: hubMessage ?? str(root.ExceptionMessage) };
}

/** The decoded claims of a `WWW-Authenticate: Bearer … claims="base64"` challenge, if any. */
export function parseClaimsChallenge(headers: HeaderBag): string | undefined {
  const header = headerValue(headers, 'www-authenticate');
  const match = header?.match(/claims="([^"]+)"/i);
  if (!match?.[1]) return undefined;
  try {
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    JSON.parse(decoded);
    return decoded;
  } catch {
    return undefined;
  }
}

function subject(context: ClassifyContext): string {
  return context.deviceId === undefined
    ? context.operation
    : `${context.operation} of device '${context.deviceId}'`;
}

function azureDetail(parsed: AzureErrorBody): string {
  if (!parsed.message && !parsed.code) return '';
  const message = parsed.message ? parsed.message.replace(/\s+/g, ' ').slice(0, 300) : '';
  const said = `${parsed.code ?? ''}${parsed.code && message ? ': ' : ''}${message}`.trimEnd();
  return ` Azure said: ${said}${/[.!?]$/.test(said) ? '' : '.'}`;
}

/** An HTTP answer's failure, by the first rule of RESPONSE_RULES that matches it. */
function classifyResponse(
  statusCode: number,
  headers: HeaderBag,
  body: unknown,
  context: ClassifyContext,
): AzureRequestError {
  const parsed = parseAzureErrorBody(body, headers);
  const rule = matchResponseRule({ statusCode, azureCode: parsed.code });
  const retryAfter = rule.keepsRetryAfter
    ? retryAfterInMs(headers, context.nowInMs ?? Date.now())
    : undefined;
  const claims = rule.keepsClaims ? parseClaimsChallenge(headers) : undefined;
  return new AzureRequestError({
    statusCode,
    deviceId: context.deviceId,
    azureCode: parsed.code,
    code: rule.failure,
    ...(retryAfter === undefined ? {} : { retryAfterInMs: retryAfter }),
    ...(claims === undefined ? {} : { claims }),
    message: rule.message({
      statusCode,
      azureCode: parsed.code,
      what: subject(context),
      detail: azureDetail(parsed),
      target: context.target,
      retryAfterInMs: retryAfter,
      hint: rule.hint,
    }),
  });
}

function classifyException(error: unknown, context: ClassifyContext): AzureRequestError {
  if (isAzureRequestError(error)) return error;
  const what = subject(context);
  const chain = causeChain(error);
  const first = chain[0] ?? {};
  const name = str(first.name) ?? 'Error';

  // Entra ID, through @azure/identity (AuthenticationError with errorResponse { error, errorDescription },
  // AuthenticationRequiredError or CredentialUnavailableError wrapping MSAL's ServerError { errorCode, errorMessage, status }).
  const identity = chain.find((e) => IDENTITY_ERROR_NAMES.has(String(e.name)));
  if (identity) {
    const msal = chain.find((e) => typeof e.errorCode === 'string');
    const response = chain.map((e) => asRecord(e.errorResponse)).find((r) => r !== undefined);
    const oauthError = (str(response?.error) ?? str(msal?.errorCode))?.toLowerCase();
    const description =
      str(response?.errorDescription) ?? str(msal?.errorMessage) ?? str(identity.message) ?? '';
    const aadsts =
      description.match(/AADSTS\d+/)?.[0] ??
      (typeof msal?.errorNo === 'number' ? `AADSTS${msal.errorNo}` : undefined);
    const statusCode = [identity.statusCode, msal?.status].find((v): v is number => typeof v === 'number');
    const transient = entraOutage({
      description,
      oauthError,
      aadsts,
      statusCode,
      names: chain.map((e) => e.name),
    });
    const unreachable = transient === 'unreachable';
    const summary = description.split('\n')[0]?.replace(/\s+/g, ' ').slice(0, 300) ?? '';
    const deviceField = context.deviceId === undefined ? {} : { deviceId: context.deviceId };
    if (!transient) {
      const hint =
        aadsts === 'AADSTS7000215'
          ? 'the client secret is wrong or expired; set a valid AZURE_CLIENT_SECRET'
          : aadsts === 'AADSTS700016'
            ? 'no application with AZURE_CLIENT_ID exists in the tenant; check AZURE_CLIENT_ID and AZURE_TENANT_ID'
            : 'check AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential (AZURE_CLIENT_SECRET or certificate)';
      return new AzureRequestError({
        code: FailureType.Misconfigured,
        ...(statusCode === undefined ? {} : { statusCode }),
        ...deviceField,
        azureCode: aadsts ?? oauthError ?? String(identity.name),
        message: `Entra ID refused the credential while ${what}: ${hint}. Not retried. (${summary})`,
        cause: error,
      });
    }
    return new AzureRequestError({
      code: FailureType.Transient,
      ...(statusCode === undefined ? {} : { statusCode }),
      ...deviceField,
      message: unreachable
        ? `Entra ID could not be reached at AZURE_AUTHORITY_HOST while ${what} (network, DNS or an untrusted TLS certificate; for the emulator set NODE_EXTRA_CA_CERTS); will retry. (${summary})`
        : `Entra ID did not issue a token while ${what} (${summary || 'no answer'}); will retry.`,
      cause: error,
    });
  }

  const codes = chain.map((e) => str(e.code)).filter((c): c is string => c !== undefined);
  const tlsCode = codes.find((c) => TLS_ERROR_CODES.has(c));
  if (tlsCode) {
    return new AzureRequestError({
      code: FailureType.Misconfigured,
      ...(context.deviceId === undefined ? {} : { deviceId: context.deviceId }),
      azureCode: tlsCode,
      message: `TLS failed while ${what} (${tlsCode}): the server's certificate is not trusted. For the emulator set NODE_EXTRA_CA_CERTS to its CA file.`,
      cause: error,
    });
  }
  const timedOut =
    name === 'TimeoutError' ||
    codes.some((c) => /TIMEOUT/i.test(c) || c === 'ETIMEDOUT') ||
    chain.some((e) => e.name === 'TimeoutError');
  const reason = timedOut
    ? 'the request timed out'
    : `the connection failed (${codes[0] ?? name}${first.message ? `: ${String(first.message).slice(0, 150)}` : ''})`;
  return new AzureRequestError({
    code: FailureType.Transient,
    ...(context.deviceId === undefined ? {} : { deviceId: context.deviceId }),
    ...(codes[0] === undefined ? {} : { azureCode: codes[0] }),
    message: `${what}: ${reason}; will retry.`,
    cause: error,
  });
}

/**
 * Maps what went wrong to an AzureRequestError. Pure: no I/O, no clock unless `nowInMs` is omitted.
 * An HTTP answer goes by RESPONSE_RULES (./response-rules.ts); an exception: Entra ID refusing the credential
 * (e.g. AADSTS7000215) or an untrusted TLS certificate → Misconfigured, Entra ID's outages, the network and
 * timeouts → Transient.
 */
export function classifyAzureError(failure: AzureFailure, context: ClassifyContext): AzureRequestError {
  if (failure.statusCode !== undefined) {
    return classifyResponse(failure.statusCode, failure.headers, failure.body, context);
  }
  return classifyException(failure.error, context);
}
