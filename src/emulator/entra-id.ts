import { randomUUID } from 'node:crypto';
import { header, type EmulatorRequest, type EmulatorResponse } from './http';
import { audiences, type Audience } from './identities';
import type { EmulatorWorld } from './world';

/** Entra ID v2 endpoints: OpenID metadata, instance discovery, keys, and the client-credentials token grant. */
export function handleEntraId(request: EmulatorRequest, world: EmulatorWorld): EmulatorResponse {
  const [tenant = '', ...rest] = request.segments;
  const route = rest.join('/').toLowerCase();
  if (
    request.method === 'GET' &&
    (route === 'v2.0/.well-known/openid-configuration' || route === '.well-known/openid-configuration')
  ) {
    if (!knownTenant(tenant, world)) return unknownTenant(request, world, tenant);
    return { status: 200, body: openIdConfiguration(world, tenant) };
  }
  if (request.method === 'GET' && route === 'discovery/instance') {
    return { status: 200, body: instanceDiscovery(world) };
  }
  if (request.method === 'GET' && (route === 'discovery/v2.0/keys' || route === 'discovery/keys')) {
    return { status: 200, body: { keys: [] } };
  }
  if (route === 'oauth2/v2.0/token') {
    if (request.method !== 'POST') {
      return entraError(
        request,
        world,
        405,
        'invalid_request',
        900561,
        'The endpoint only accepts POST requests.',
      );
    }
    const outage = world.faults.entraOutage(world.now());
    if (outage !== undefined) {
      const answer = entraError(
        request,
        world,
        outage.status,
        outage.status === 429 ? 'temporarily_unavailable' : 'server_error',
        50000,
        'There was an error issuing a token or an issue with our sign-in service.',
      );
      if (outage.retryAfterSeconds === 0) return answer;
      return { ...answer, headers: { ...answer.headers, 'retry-after': String(outage.retryAfterSeconds) } };
    }
    return issueToken(request, world, tenant);
  }
  return entraError(
    request,
    world,
    404,
    'invalid_request',
    900023,
    `The requested path '${request.path}' does not exist.`,
  );
}

/** The tenant's OpenID configuration; the issuer has the authority's scheme, host and port, as MSAL checks. */
function openIdConfiguration(world: EmulatorWorld, tenant: string): Record<string, unknown> {
  const tenantId = world.principal.tenantId;
  const base = `${world.url}/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${world.url}/${tenantId}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${world.url}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'tid', 'oid'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'WW',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

function instanceDiscovery(world: EmulatorWorld): Record<string, unknown> {
  const host = new URL(world.url).host;
  return {
    tenant_discovery_endpoint: `${world.url}/${world.principal.tenantId}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}

function issueToken(request: EmulatorRequest, world: EmulatorWorld, tenant: string): EmulatorResponse {
  if (tenant.toLowerCase() !== world.principal.tenantId) return unknownTenant(request, world, tenant);
  const contentType = header(request, 'content-type') ?? '';
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    return entraError(
      request,
      world,
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'grant_type'.",
    );
  }
  const form = new URLSearchParams(request.body.toString('utf8'));
  const grantType = form.get('grant_type');
  if (!grantType) {
    return entraError(
      request,
      world,
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'grant_type'.",
    );
  }
  if (grantType !== 'client_credentials') {
    return entraError(
      request,
      world,
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grantType}'.`,
    );
  }
  const clientId = form.get('client_id');
  if (!clientId) {
    return entraError(
      request,
      world,
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'client_id'.",
    );
  }
  if (clientId.toLowerCase() !== world.principal.clientId) {
    return entraError(
      request,
      world,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${world.principal.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );
  }
  const secret = form.get('client_secret');
  if (!secret) {
    return entraError(
      request,
      world,
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }
  if (secret !== world.principal.clientSecret) {
    return entraError(
      request,
      world,
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${world.principal.clientId}'.`,
    );
  }
  const audience = audienceOf(form.get('scope'));
  if (!audience.ok) return entraError(request, world, 400, audience.error, audience.aadsts, audience.message);
  const nowMs = world.now();
  const token = world.tokens.issue(
    {
      principalObjectId: world.principal.objectId,
      clientId,
      audience: audience.audience,
      lifetimeSeconds: world.tokenLifetimeSeconds,
      answersChallenge: claimsAnswerChallenge(form.get('claims')),
    },
    nowMs,
  );
  Object.assign(request.note, { principal: world.principal.objectId, audience: audience.audience });
  return {
    status: 200,
    headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
    body: {
      token_type: 'Bearer',
      expires_in: world.tokenLifetimeSeconds,
      ext_expires_in: world.tokenLifetimeSeconds,
      access_token: token,
    },
  };
}

type AudienceResult =
  { ok: true; audience: Audience } | { ok: false; error: string; aadsts: number; message: string };

/** `https://management.azure.com/.default` → the audience the token is for. One resource per token. */
function audienceOf(scope: string | null): AudienceResult {
  if (!scope) {
    return {
      ok: false,
      error: 'invalid_request',
      aadsts: 900144,
      message: "The request body must contain the following parameter: 'scope'.",
    };
  }
  const resources = scope
    .split(/\s+/)
    .filter((value) => value && !['openid', 'profile', 'offline_access'].includes(value));
  const [only] = resources;
  if (resources.length !== 1 || !only) {
    return {
      ok: false,
      error: 'invalid_scope',
      aadsts: 70011,
      message: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
    };
  }
  if (!only.endsWith('/.default')) {
    return {
      ok: false,
      error: 'invalid_scope',
      aadsts: 1002012,
      message: `The provided value for scope ${only} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    };
  }
  const resource = only.slice(0, -'/.default'.length).replace(/\/+$/, '').toLowerCase();
  if (resource === audiences.management || resource === 'https://management.core.windows.net') {
    return { ok: true, audience: audiences.management };
  }
  if (resource === audiences.iotHub) return { ok: true, audience: audiences.iotHub };
  return {
    ok: false,
    error: 'invalid_resource',
    aadsts: 500011,
    message: `The resource principal named ${resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
  };
}

/**
 * Whether the token request answers a claims challenge: its `claims` ask for an access token `nbf`. MSAL
 * sends `claims` with every CAE-capable request (`xms_cc`), so the mere presence of the parameter says nothing.
 */
function claimsAnswerChallenge(claims: string | null): boolean {
  if (!claims) return false;
  try {
    const parsed = JSON.parse(claims) as { access_token?: { nbf?: unknown } } | null;
    return parsed?.access_token?.nbf !== undefined;
  } catch {
    return false;
  }
}

function knownTenant(tenant: string, world: EmulatorWorld): boolean {
  return ['common', 'organizations', world.principal.tenantId].includes(tenant.toLowerCase());
}

function unknownTenant(request: EmulatorRequest, world: EmulatorWorld, tenant: string): EmulatorResponse {
  return entraError(
    request,
    world,
    400,
    'invalid_tenant',
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  );
}

/** Entra ID's OAuth error body; the AADSTS code leads the description, as clients search for it. */
function entraError(
  request: EmulatorRequest,
  world: EmulatorWorld,
  status: number,
  error: string,
  aadsts: number,
  text: string,
): EmulatorResponse {
  const timestamp = new Date(world.now())
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const traceId = request.requestId;
  const correlationId = header(request, 'client-request-id') ?? randomUUID();
  request.note.code = `AADSTS${aadsts}`;
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${aadsts}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [aadsts],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${world.url}/error?code=${aadsts}`,
    },
  };
}
