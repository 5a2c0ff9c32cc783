/**
 * The real Azure SDK clients, pointed at the emulator in-process. They trust its CA through `tlsOptions`:
 * core-rest-pipeline (which @azure/identity, and MSAL through it, and @azure/arm-authorization all send
 * through) puts `tlsOptions.ca` on its https agent. It replaces the default CAs for that client only, which
 * is what a client of the emulator wants. Kept apart from helpers.ts so that tests without the SDK do not
 * pay for loading it.
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ClientSecretCredential } from '@azure/identity';
import type { Emulator } from '../../src/emulator';
import { managementScope } from './helpers';

export function credentialFor(
  emulator: Emulator,
  secret = emulator.principal.clientSecret,
): ClientSecretCredential {
  return new ClientSecretCredential(emulator.principal.tenantId, emulator.principal.clientId, secret, {
    authorityHost: emulator.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: emulator.caPem },
  });
}

export function authorizationClient(emulator: Emulator): AuthorizationManagementClient {
  return new AuthorizationManagementClient(credentialFor(emulator), emulator.hub.subscriptionId, {
    endpoint: emulator.url,
    credentialScopes: [managementScope],
    tlsOptions: { ca: emulator.caPem },
  });
}
