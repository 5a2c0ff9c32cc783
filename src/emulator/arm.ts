import { handleAuthorizationRequest } from './arm-authorization';
import { resolveArmTarget, type ArmCaller } from './arm-paths';
import { handleSecurityPolicyRequest } from './arm-security-policies';
import type { ArmRequestKind, ThrottleDecision, TransientOutcome } from './fault-injector';
import { EmulatorHttpError, header, type EmulatorRequest, type EmulatorResponse } from './http';
import { audiences } from './identities';
import type { EmulatorWorld } from './world';

/**
 * Resource Manager. In ARM's order: authenticate, (maybe) challenge, throttle, resolve the path, check the
 * api-version, authorize, act. Every answer carries x-ms-request-id; every answer to an authenticated caller
 * carries the remaining-requests headers of that caller's buckets.
 */
export function handleArm(
  request: EmulatorRequest,
  world: EmulatorWorld,
  transient: TransientOutcome | undefined,
): EmulatorResponse {
  const kind: ArmRequestKind = request.method === 'GET' || request.method === 'HEAD' ? 'reads' : 'writes';
  let throttle: ThrottleDecision | undefined;
  const anonymousActor = `anonymous|${world.hub.subscriptionId}`;
  let actor = anonymousActor;
  let response: EmulatorResponse;
  try {
    if (transient === 'error500') {
      world.faults.counters.error500++;
      throw new EmulatorHttpError(
        500,
        'InternalServerError',
        `Encountered internal server error. Diagnostic information: timestamp '${new Date(world.now()).toISOString()}', subscription id '${world.hub.subscriptionId}', tracking id '${request.requestId}', request correlation id '${request.requestId}'.`,
      );
    }
    if (transient === 'error503') {
      world.faults.counters.error503++;
      throw new EmulatorHttpError(
        503,
        'ServiceUnavailable',
        'The server is currently unable to receive requests. Please retry your request.',
        {
          'retry-after': String(world.faults.current.transient.retryAfterSeconds),
        },
      );
    }
    const caller = authenticate(request, world);
    actor = `${caller.objectId}|${world.hub.subscriptionId}`;
    if (transient === 'claimsChallenge' && !caller.answersChallenge) {
      world.faults.counters.claimsChallenges++;
      world.tokens.revoke(caller.token);
      throw claimsChallenge(world);
    }
    throttle = world.faults.takeArmToken(kind, actor, world.now());
    if (!throttle.allowed) {
      world.faults.counters.throttled++;
      throw new EmulatorHttpError(
        429,
        'SubscriptionRequestsThrottled',
        `Number of '${kind === 'reads' ? 'read' : 'write'}' requests for subscription '${world.hub.subscriptionId}' actor '${caller.objectId}' exceeded. Please try again after '${throttle.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
        { 'retry-after': String(throttle.retryAfterSeconds) },
      );
    }
    const target = resolveArmTarget(request, world);
    response =
      target.kind === 'authorization'
        ? handleAuthorizationRequest(request, world, caller, target)
        : handleSecurityPolicyRequest(request, world, caller, target);
  } catch (error) {
    response = armErrorResponse(request, error);
  }
  const remaining = (side: ArmRequestKind): string =>
    String(
      side === kind && throttle ? throttle.remaining : world.faults.armRemaining(side, actor, world.now()),
    );
  response.headers = {
    ...response.headers,
    'x-ms-request-id': request.requestId,
    'x-ms-correlation-request-id': header(request, 'x-ms-correlation-request-id') ?? request.requestId,
    // The remaining counts are the caller's bucket's: an answer given before the caller was known (a gateway's
    // 500/503, a 401) has none to tell.
    ...(actor === anonymousActor
      ? {}
      : {
          'x-ms-ratelimit-remaining-subscription-reads': remaining('reads'),
          'x-ms-ratelimit-remaining-subscription-writes': remaining('writes'),
        }),
  };
  return response;
}

/** ARM's error shape, `{ error: { code, message } }`; anything unexpected becomes a 500 in that shape. */
function armErrorResponse(request: EmulatorRequest, error: unknown): EmulatorResponse {
  const failure =
    error instanceof EmulatorHttpError
      ? error
      : new EmulatorHttpError(500, 'InternalServerError', `The emulator failed: ${String(error)}`);
  request.note.code = failure.code;
  return {
    status: failure.status,
    headers: { ...failure.headers },
    body: { error: { code: failure.code, message: failure.message } },
  };
}

/** A management token, current and not revoked, or a 401 with WWW-Authenticate as ARM sends it. */
function authenticate(request: EmulatorRequest, world: EmulatorWorld): ArmCaller {
  const check = world.tokens.check(header(request, 'authorization'), world.now());
  if (check.token) request.note.token = check.token;
  if (check.issued)
    Object.assign(request.note, {
      principal: check.issued.principalObjectId,
      audience: check.issued.audience,
    });
  const authorizationUri = `${world.url}/${world.principal.tenantId}`;
  const unauthorized = (code: string, message: string, description: string): EmulatorHttpError =>
    new EmulatorHttpError(401, code, message, {
      'www-authenticate': `Bearer authorization_uri="${authorizationUri}", error="invalid_token", error_description="${description}"`,
    });
  if (!check.ok) {
    switch (check.reason) {
      case 'missing':
        throw unauthorized(
          'AuthenticationFailed',
          "Authentication failed. The 'Authorization' header is missing.",
          "The authentication failed because of missing 'Authorization' header.",
        );
      case 'malformed':
        throw unauthorized(
          'InvalidAuthenticationToken',
          "The access token is invalid. The 'Authorization' header is not a Bearer token.",
          'The access token is invalid.',
        );
      case 'unknown':
        throw unauthorized(
          'InvalidAuthenticationToken',
          'The access token is invalid.',
          'The access token is invalid.',
        );
      case 'expired': {
        const expiredAt = new Date(check.issued?.expiresAtMs ?? 0).toISOString();
        throw unauthorized(
          'ExpiredAuthenticationToken',
          `The access token expiry UTC time '${expiredAt}' is earlier than current UTC time '${new Date(world.now()).toISOString()}'.`,
          'The access token has expired.',
        );
      }
      case 'revoked':
        throw claimsChallenge(world);
    }
  }
  if (check.issued.audience !== audiences.management) {
    throw unauthorized(
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${check.issued.audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
      'The access token has been obtained for wrong audience.',
    );
  }
  return {
    objectId: check.issued.principalObjectId,
    token: check.token,
    answersChallenge: check.issued.answersChallenge,
  };
}

/** Continuous access evaluation's challenge: get a new token with these claims. */
function claimsChallenge(world: EmulatorWorld): EmulatorHttpError {
  const claims = Buffer.from(
    JSON.stringify({
      access_token: { nbf: { essential: true, value: String(Math.floor(world.now() / 1000)) } },
    }),
  ).toString('base64');
  return new EmulatorHttpError(
    401,
    'InvalidAuthenticationToken',
    'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenCreatedWithOutdatedPolicies',
    {
      'www-authenticate': `Bearer authorization_uri="${world.url}/${world.principal.tenantId}/oauth2/authorize", error="insufficient_claims", claims="${claims}"`,
    },
  );
}
