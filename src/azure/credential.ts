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
import type { TokenCredential } from '@azure/core-auth';
import type { Config } from '../config';
import { registerSecret } from '../logger';

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

export function credentialOptionsFromConfig(config: Config): CredentialOptions {
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

/** Holds the worker's current credential; `renew` swaps in a fresh instance (and returns it). */
export class CredentialSource {
  private instance: TokenCredential;
  private renewals = 0;

  constructor(private readonly factory: () => TokenCredential) {
    this.instance = factory();
  }

  static fromOptions(options: CredentialOptions): CredentialSource {
    return new CredentialSource(() => createCredential(options));
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
