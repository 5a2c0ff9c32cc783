/**
 * The worker's one credential. ClientSecretCredential when a client secret is configured; otherwise
 * @azure/identity's own environment-driven credentials (certificate or username variables through
 * EnvironmentCredential, workload identity, managed identity), in that order.
 *
 * `CredentialSource.renew()` replaces the instance: a fresh MSAL client with an empty cache is the
 * reliable way to get a genuinely new token after Azure refused the cached one with a 403, which MSAL
 * knows nothing about.
 */
import {
  ChainedTokenCredential,
  ClientSecretCredential,
  EnvironmentCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import { get as httpsGet } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import type { AzureConfig } from '../config';
import { registerSecret } from '../logger';
import { FailureType } from '../domain/failure-codes';
import { causeChain } from '../domain/cause-chain';
import { AzureRequestError } from './errors';

export interface CredentialOptions {
  tenantId?: string;
  clientId?: string;
  /** Kept in this process only; registered with the logger's redaction. */
  clientSecret?: string;
  /** @default 'https://login.microsoftonline.com' */
  authorityHost?: string;
  /** Skip Entra instance discovery (sovereign or private authorities, the emulator). @default false */
  disableInstanceDiscovery?: boolean;
}

export function credentialOptionsFromConfig(config: AzureConfig): CredentialOptions {
  return {
    ...(config.azure.tenantId === undefined ? {} : { tenantId: config.azure.tenantId }),
    ...(config.azure.clientId === undefined ? {} : { clientId: config.azure.clientId }),
    ...(config.azure.clientSecret === undefined ? {} : { clientSecret: config.azure.clientSecret }),
    authorityHost: config.azure.authorityHost,
    disableInstanceDiscovery: config.azure.disableInstanceDiscovery,
  };
}

/** Builds one credential instance from the options (no I/O happens until getToken). */
export function createCredential(options: CredentialOptions): TokenCredential {
  const common = {
    ...(options.authorityHost === undefined ? {} : { authorityHost: options.authorityHost }),
    disableInstanceDiscovery: options.disableInstanceDiscovery ?? false,
  };
  if (options.clientSecret !== undefined) {
    registerSecret(options.clientSecret);
    if (!options.tenantId || !options.clientId) {
      throw new Error('AZURE_CLIENT_SECRET is set, so AZURE_TENANT_ID and AZURE_CLIENT_ID are required too');
    }
    return new ClientSecretCredential(options.tenantId, options.clientId, options.clientSecret, common);
  }
  return new ChainedTokenCredential(
    new EnvironmentCredential(common),
    new WorkloadIdentityCredential({
      ...common,
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
    }),
    options.clientId === undefined
      ? new ManagedIdentityCredential()
      : new ManagedIdentityCredential({ clientId: options.clientId }),
  );
}

/** GETs a small JSON document; rejects on network errors and timeouts. */
function getJson(url: string, timeoutInMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = httpsGet(url, { timeout: timeoutInMs }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (text.length < 65_536) text += chunk;
      });
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/** Entra ID's codes for a tenant that does not exist (or is not a tenant id or domain it knows). */
const UNKNOWN_TENANT_CODES = new Set(['AADSTS90002', 'AADSTS900023', 'AADSTS90013']);

/** Whether an error of @azure/identity is MSAL failing to read the authority's OpenID configuration. */
function isEndpointResolutionError(error: unknown): boolean {
  return causeChain(error).some((e) =>
    /endpoints_resolution_error/i.test(`${String(e.errorCode ?? '')} ${String(e.message ?? '')}`),
  );
}

/**
 * MSAL reports an unknown tenant and an unreachable authority alike (endpoints_resolution_error). Asks the
 * authority for the tenant's OpenID configuration once, to tell them apart: a 400 or 404 in which Entra ID
 * says invalid_tenant (AADSTS90002…) means AZURE_TENANT_ID is wrong, which no retry heals. Undefined when it
 * cannot tell (then the error stays transient).
 */
export async function diagnoseTenant(
  options: CredentialOptions,
  error: unknown,
  timeoutInMs = 10_000,
): Promise<AzureRequestError | undefined> {
  if (!options.tenantId || !isEndpointResolutionError(error)) return undefined;
  const authority = (options.authorityHost ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
  const url = `${authority}/${encodeURIComponent(options.tenantId)}/v2.0/.well-known/openid-configuration`;
  // node:https with the process's trust (NODE_EXTRA_CA_CERTS), as MSAL's own requests. It does not go through
  // HTTPS_PROXY: behind a proxy that is the only way out, the diagnosis fails and the error stays Transient.
  const answer = await getJson(url, timeoutInMs).catch(() => undefined);
  if (!answer || (answer.status !== 400 && answer.status !== 404)) return undefined;
  const body = (answer.body ?? {}) as { error?: unknown; error_description?: unknown };
  const said = typeof body.error_description === 'string' ? body.error_description.split('\n')[0] : '';
  const code = said?.match(/AADSTS\d+/)?.[0] ?? (typeof body.error === 'string' ? body.error : undefined);
  // Only Entra ID's own word counts: a proxy's or gateway's 404 page says nothing about the tenant.
  if (body.error !== 'invalid_tenant' && !UNKNOWN_TENANT_CODES.has(code ?? '')) return undefined;
  return new AzureRequestError({
    code: FailureType.Misconfigured,
    statusCode: answer.status,
    ...(code === undefined ? {} : { azureCode: code }),
    message:
      `Entra ID at AZURE_AUTHORITY_HOST does not know the tenant AZURE_TENANT_ID='${options.tenantId}' ` +
      `(${answer.status}${said ? `: ${said.slice(0, 200)}` : ''}). Set AZURE_TENANT_ID to the directory (tenant) ` +
      `id of the app registration, on the authority of its cloud. Not retried.`,
    cause: error,
  });
}

/** Holds the worker's current credential; `renew` swaps in a fresh instance (and returns it). */
export class CredentialSource {
  private instance: TokenCredential;
  private renewals = 0;

  constructor(
    private readonly factory: () => TokenCredential,
    /** What the credential was built from, to explain its failures (see `explainFailure`). */
    private readonly options?: CredentialOptions,
  ) {
    this.instance = factory();
  }

  static fromOptions(options: CredentialOptions): CredentialSource {
    return new CredentialSource(() => createCredential(options), options);
  }

  /** A clearer, non-retryable error for a token request that failed for a reason no retry heals, if it can tell. */
  async explainFailure(error: unknown): Promise<Error | undefined> {
    return this.options ? diagnoseTenant(this.options, error) : undefined;
  }

  get current(): TokenCredential {
    return this.instance;
  }

  renew(): TokenCredential {
    this.instance = this.factory();
    this.renewals += 1;
    return this.instance;
  }

  /** How many times the credential was replaced (for tests and metrics). */
  get renewalCount(): number {
    return this.renewals;
  }
}
