import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AzureRequestError,
  classifyAzureError,
  isAzureRequestError,
  parseAzureErrorBody,
  parseClaimsChallenge,
} from '../../src/azure/errors';
import { FailureType } from '../../src/domain/failure-codes';

const arm = (code: string, message = 'm') => ({ error: { code, message } });
const ctx = {
  operation: 'writing the security policy',
  deviceId: 'device-0001',
  target: 'arm' as const,
  nowInMs: 0,
};

void describe('classifyAzureError', () => {
  void it('403 AuthorizationFailed → retryable AuthorizationFailed naming the device and what to do', () => {
    const e = classifyAzureError({ statusCode: 403, headers: {}, body: arm('AuthorizationFailed') }, ctx);
    assert.equal(e.code, FailureType.AuthorizationFailed);
    assert.equal(e.retryable, true);
    assert.equal(e.statusCode, 403);
    assert.equal(e.deviceId, 'device-0001');
    assert.match(e.message, /device 'device-0001'/);
    assert.match(e.message, /preflight/);
  });

  void it('refusals a retry cannot heal → Misconfigured, not retried, saying what to do', () => {
    const cases = [
      { statusCode: 403, headers: {}, body: arm('RequestDisallowedByPolicy'), says: /Azure Policy/ },
      { statusCode: 409, headers: {}, body: arm('ScopeLocked'), says: /resource lock/ },
      {
        statusCode: 401,
        headers: {},
        body: arm('InvalidAuthenticationTokenTenant'),
        says: /AZURE_TENANT_ID/,
      },
      {
        statusCode: 403,
        headers: { 'iothub-errorcode': 'IotHubQuotaExceeded' },
        body: { Message: 'ErrorCode:IotHubQuotaExceeded;Total number of messages on IotHub exceeded' },
        says: /daily quota/,
      },
    ];
    for (const { says, ...failure } of cases) {
      const e = classifyAzureError(failure, ctx);
      assert.equal(e.code, FailureType.Misconfigured, e.message);
      assert.equal(e.retryable, false);
      assert.match(e.message, says);
      assert.match(e.message, /Not retried/);
    }
    // A 409 with another code stays a temporary failure; a 401 with an expired token stays Unauthorized.
    assert.equal(
      classifyAzureError({ statusCode: 409, headers: {}, body: arm('Conflict') }, ctx).code,
      FailureType.Transient,
    );
    assert.equal(
      classifyAzureError({ statusCode: 401, headers: {}, body: arm('ExpiredAuthenticationToken') }, ctx).code,
      FailureType.Unauthorized,
    );
  });

  void it("IoT Hub's 401 IotHubUnauthorized (no data action) → AuthorizationFailed", () => {
    const e = classifyAzureError(
      {
        statusCode: 401,
        headers: { 'iothub-errorcode': 'IotHubUnauthorized' },
        body: { Message: 'ErrorCode:IotHubUnauthorized;Principal x is not authorized' },
      },
      { ...ctx, target: 'twin' },
    );
    assert.equal(e.code, FailureType.AuthorizationFailed);
    assert.match(e.message, /twins\/read and write/);
  });

  void it('401 → retryable Unauthorized, carrying a claims challenge', () => {
    const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: '1' } } });
    const header = `Bearer authorization_uri="x", error="insufficient_claims", claims="${Buffer.from(claims).toString('base64')}"`;
    const e = classifyAzureError(
      { statusCode: 401, headers: { 'www-authenticate': header }, body: arm('InvalidAuthenticationToken') },
      ctx,
    );
    assert.equal(e.code, FailureType.Unauthorized);
    assert.equal(e.retryable, true);
    assert.equal(e.claims, claims);
    assert.equal(parseClaimsChallenge({ 'www-authenticate': 'Bearer error="invalid_token"' }), undefined);
  });

  void it('429 → Throttled with the delay from Retry-After', () => {
    const e = classifyAzureError(
      { statusCode: 429, headers: { 'retry-after': '3' }, body: arm('SubscriptionRequestsThrottled') },
      ctx,
    );
    assert.equal(e.code, FailureType.Throttled);
    assert.equal(e.retryAfterInMs, 3000);
    assert.equal(e.retryable, true);
  });

  void it('503 → Transient with the delay from x-ms-retry-after-ms; other 5xx → Transient', () => {
    const e = classifyAzureError(
      { statusCode: 503, headers: { 'x-ms-retry-after-ms': '1200' }, body: '' },
      ctx,
    );
    assert.equal(e.code, FailureType.Transient);
    assert.equal(e.retryAfterInMs, 1200);
    assert.equal(
      classifyAzureError({ statusCode: 500, headers: {}, body: arm('InternalServerError') }, ctx).code,
      FailureType.Transient,
    );
    assert.equal(
      classifyAzureError({ statusCode: 502, headers: {}, body: '<html>' }, ctx).code,
      FailureType.Transient,
    );
  });

  void it('400 → non-retryable InvalidPolicy', () => {
    const e = classifyAzureError({ statusCode: 400, headers: {}, body: arm('InvalidRequestContent') }, ctx);
    assert.equal(e.code, FailureType.InvalidPolicy);
    assert.equal(e.retryable, false);
    assert.match(e.message, /POLICIES_FILE/);
  });

  void it('400 about the api-version → Misconfigured', () => {
    const e = classifyAzureError(
      { statusCode: 400, headers: {}, body: arm('NoRegisteredProviderFound') },
      ctx,
    );
    assert.equal(e.code, FailureType.Misconfigured);
    assert.match(e.message, /POLICY_API_VERSION/);
  });

  void it('404 for the device → non-retryable DeviceNotFound (ARM and IoT Hub shapes)', () => {
    assert.equal(
      classifyAzureError({ statusCode: 404, headers: {}, body: arm('DeviceNotFound') }, ctx).code,
      FailureType.DeviceNotFound,
    );
    const hub = classifyAzureError(
      { statusCode: 404, headers: {}, body: { Message: 'ErrorCode:DeviceNotFound;Device x not registered' } },
      ctx,
    );
    assert.equal(hub.code, FailureType.DeviceNotFound);
    assert.equal(hub.azureCode, 'DeviceNotFound');
    assert.equal(hub.retryable, false);
    // Azure's own sentence keeps its full stop, and gets no second one.
    const said = (message: string) =>
      classifyAzureError({ statusCode: 404, headers: {}, body: arm('DeviceNotFound', message) }, ctx).message;
    assert.match(
      said("The device 'd' does not exist."),
      /Azure said: DeviceNotFound: The device 'd' does not exist\.$/,
    );
    assert.match(said('no such device'), /Azure said: DeviceNotFound: no such device\.$/);
  });

  void it('404 for the resource type or provider → TargetUnsupported pointing to POLICY_TARGET=twin', () => {
    for (const code of ['InvalidResourceType', 'NoRegisteredProviderFound', 'ResourceTypeNotSupported']) {
      const e = classifyAzureError({ statusCode: 404, headers: {}, body: arm(code) }, ctx);
      assert.equal(e.code, FailureType.TargetUnsupported, code);
      assert.equal(e.retryable, false);
      assert.match(e.message, /POLICY_TARGET=twin/);
    }
  });

  void it('404 for the hub or group → Misconfigured', () => {
    assert.equal(
      classifyAzureError({ statusCode: 404, headers: {}, body: arm('ResourceGroupNotFound') }, ctx).code,
      FailureType.Misconfigured,
    );
  });

  void it('timeouts and dropped connections → Transient', () => {
    const timeout = Object.assign(new Error('timed out after 30000 ms'), { name: 'TimeoutError' });
    assert.equal(classifyAzureError({ error: timeout }, ctx).code, FailureType.Transient);
    const socket = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const e = classifyAzureError({ error: socket }, ctx);
    assert.equal(e.code, FailureType.Transient);
    assert.match(e.message, /UND_ERR_SOCKET/);
    const reset = new Error('fetch failed', {
      cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    });
    assert.equal(classifyAzureError({ error: reset }, ctx).azureCode, 'ECONNRESET');
  });

  void it('an untrusted certificate → Misconfigured naming NODE_EXTRA_CA_CERTS', () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    const e = classifyAzureError({ error: tls }, ctx);
    assert.equal(e.code, FailureType.Misconfigured);
    assert.match(e.message, /NODE_EXTRA_CA_CERTS/);
  });

  void it('AADSTS7000215 invalid_client → non-retryable Misconfigured', () => {
    const identity = Object.assign(
      new Error(
        'ClientSecretCredential authentication failed. AADSTS7000215: Invalid client secret provided.',
      ),
      {
        name: 'AuthenticationError',
        statusCode: 401,
        errorResponse: {
          error: 'invalid_client',
          errorDescription: 'AADSTS7000215: Invalid client secret provided.',
        },
      },
    );
    const e = classifyAzureError({ error: identity }, ctx);
    assert.equal(e.code, FailureType.Misconfigured);
    assert.equal(e.retryable, false);
    assert.equal(e.azureCode, 'AADSTS7000215');
    assert.match(e.message, /AZURE_CLIENT_SECRET/);
  });

  void it('@azure/identity 4 wrapping MSAL ServerError (AuthenticationRequiredError) → Misconfigured', () => {
    const serverError = Object.assign(
      new Error('invalid_client: AADSTS7000215: Invalid client secret provided.'),
      {
        name: 'ServerError',
        errorCode: 'invalid_client',
        errorMessage: 'Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided.',
        errorNo: 7000215,
        status: 401,
      },
    );
    const wrapped = Object.assign(new Error(serverError.message, { cause: serverError }), {
      name: 'AuthenticationRequiredError',
    });
    const e = classifyAzureError({ error: wrapped }, ctx);
    assert.equal(e.code, FailureType.Misconfigured);
    assert.equal(e.statusCode, 401);
    assert.equal(e.azureCode, 'AADSTS7000215');
  });

  void it('Entra ID unreachable (MSAL endpoints_resolution_error) → Transient naming AZURE_AUTHORITY_HOST', () => {
    const e = classifyAzureError(
      {
        error: Object.assign(new Error('endpoints_resolution_error: See https://aka.ms/msal.js.errors'), {
          name: 'CredentialUnavailableError',
        }),
      },
      ctx,
    );
    assert.equal(e.code, FailureType.Transient);
    assert.match(e.message, /AZURE_AUTHORITY_HOST/);
  });

  void it("MSAL's cached form of an Entra ID 5xx (status-less ServerError) → Transient, never Misconfigured", () => {
    for (const errorCode of ['50000', '', '50000 50001']) {
      const cached = Object.assign(new Error('AADSTS50000: There was an error issuing a token.'), {
        name: 'ServerError',
        errorCode,
        errorMessage: 'AADSTS50000: There was an error issuing a token or an issue with our sign-in service.',
      });
      const wrapped = Object.assign(new Error(cached.message, { cause: cached }), {
        name: 'AuthenticationRequiredError',
      });
      const e = classifyAzureError({ error: wrapped }, ctx);
      assert.equal(e.code, FailureType.Transient, `errorCode '${errorCode}'`);
      assert.equal(e.retryable, true);
      assert.doesNotMatch(e.message, /refused the credential/);
    }
  });

  void it('Entra ID throttling (429) and server_error without a status → Transient', () => {
    const throttled = Object.assign(new Error('throttled'), {
      name: 'AuthenticationError',
      statusCode: 429,
      errorResponse: { error: 'invalid_request', errorDescription: 'AADSTS90055: Too many requests.' },
    });
    assert.equal(classifyAzureError({ error: throttled }, ctx).code, FailureType.Transient);
    const serverError = Object.assign(new Error('server_error'), {
      name: 'AuthenticationRequiredError',
      cause: Object.assign(new Error('server_error'), { name: 'ServerError', errorCode: 'server_error' }),
    });
    assert.equal(classifyAzureError({ error: serverError }, ctx).code, FailureType.Transient);
  });

  void it("the credential's own refusals stay Misconfigured: unknown tenant, unknown client, expired secret", () => {
    for (const [status, error, aadsts] of [
      [400, 'invalid_request', 'AADSTS90002'],
      [400, 'unauthorized_client', 'AADSTS700016'],
      [401, 'invalid_client', 'AADSTS7000222'],
    ] as const) {
      const refused = Object.assign(new Error(`${aadsts}: refused`), {
        name: 'AuthenticationError',
        statusCode: status,
        errorResponse: { error, errorDescription: `${aadsts}: refused.` },
      });
      const e = classifyAzureError({ error: refused }, ctx);
      assert.equal(e.code, FailureType.Misconfigured, aadsts);
      assert.equal(e.azureCode, aadsts);
    }
  });

  void it('Entra ID unavailable (5xx) → Transient', () => {
    const identity = Object.assign(new Error('boom'), {
      name: 'AuthenticationError',
      statusCode: 503,
      errorResponse: { error: 'temporarily_unavailable' },
    });
    assert.equal(classifyAzureError({ error: identity }, ctx).code, FailureType.Transient);
  });
});

void describe('AzureRequestError', () => {
  void it('has a name-based guard and never prints a bearer token', () => {
    const e = new AzureRequestError({
      code: FailureType.Transient,
      message: 'failed with Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl and access_token=abc123',
    });
    assert.ok(isAzureRequestError(e));
    assert.ok(!isAzureRequestError(new Error('x')));
    const printed = `${e.toString()} ${JSON.stringify(e)} ${e.message}`;
    assert.doesNotMatch(printed, /eyJhbGciOi|abc123/);
    assert.equal(JSON.parse(JSON.stringify(e)).code, 'Transient');
  });
});

void describe('parseAzureErrorBody', () => {
  void it('reads ARM, IoT Hub and OAuth shapes', () => {
    assert.deepEqual(parseAzureErrorBody(arm('X', 'y')), { code: 'X', message: 'y' });
    assert.equal(
      parseAzureErrorBody({ Message: 'ErrorCode:PreconditionFailed;nope' }).code,
      'PreconditionFailed',
    );
    assert.equal(
      parseAzureErrorBody({ error: 'invalid_client', error_description: 'AADSTS7000215: bad' }).code,
      'AADSTS7000215',
    );
    assert.equal(
      parseAzureErrorBody('not json', { 'iothub-errorcode': 'ThrottlingException' }).code,
      'ThrottlingException',
    );
  });
});
