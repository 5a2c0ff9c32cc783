/**
 * How an HTTP answer of Azure becomes a failure code: an ordered table of small rules, first match wins (the
 * way @azure/core-rest-pipeline orders its policies). Each rule names the statuses and Azure error codes it
 * matches, the failure code it gives, what the user should do, and how its message reads. The predicate is
 * built from the declared statuses and codes, so the table the README documents is the one that decides
 * (test/docs/refusals-table.test.ts checks one against the other). Pure.
 */
import { FailureType } from '../domain/failure-codes';
import type { PolicyTarget } from '../domain/policy-target';

/** The failure codes an HTTP answer can map to (a subset of AzureErrorCode). */
export type ResponseFailure =
  | typeof FailureType.Misconfigured
  | typeof FailureType.AuthorizationFailed
  | typeof FailureType.Unauthorized
  | typeof FailureType.Throttled
  | typeof FailureType.TargetUnsupported
  | typeof FailureType.DeviceNotFound
  | typeof FailureType.InvalidPolicy
  | typeof FailureType.Transient;

/** What a rule's predicate sees. */
export interface ResponseFacts {
  statusCode: number;
  /** Azure's error code from the body or headers, as Azure spelled it, if any. */
  azureCode: string | undefined;
}

/** What a rule's message is built from. */
export interface RefusalMessageParts extends ResponseFacts {
  /** The operation, and the device if any: "writing the security policy of device 'd1'". */
  what: string;
  /** " Azure said: …." or ''. */
  detail: string;
  target: PolicyTarget | undefined;
  /** Retry-After (or its ms forms) of the answer, if it had one. */
  retryAfterInMs: number | undefined;
  /** The rule's own hint. */
  hint: string;
}

/** Which statuses a rule covers: a list, or an inclusive range. */
export type StatusMatch = { readonly in: readonly number[] } | { readonly from: number; readonly to: number };

export interface ResponseRule {
  /** A stable name, for tests and logs. */
  readonly name: string;
  /** Undefined: any status (the last rule only). */
  readonly statuses?: StatusMatch;
  /** Azure codes (case-insensitive) the rule applies to; undefined: any code. */
  readonly azureCodes?: readonly string[];
  readonly failure: ResponseFailure;
  /** What the user should do, as the message says it; '' when there is nothing for them to do. */
  readonly hint: string;
  /** Whether the error carries the answer's Retry-After. */
  readonly keepsRetryAfter?: boolean;
  /** Whether the error carries a 401's claims challenge. */
  readonly keepsClaims?: boolean;
  readonly message: (parts: RefusalMessageParts) => string;
}

export function statusMatches(match: StatusMatch | undefined, statusCode: number): boolean {
  if (match === undefined) return true;
  return 'in' in match ? match.in.includes(statusCode) : statusCode >= match.from && statusCode <= match.to;
}

/** Whether a rule applies to an answer. */
export function ruleMatches(rule: ResponseRule, facts: ResponseFacts): boolean {
  if (!statusMatches(rule.statuses, facts.statusCode)) return false;
  if (rule.azureCodes === undefined) return true;
  const code = facts.azureCode?.toLowerCase();
  return code !== undefined && rule.azureCodes.some((c) => c.toLowerCase() === code);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? 'a backoff' : `${Math.ceil(ms / 100) / 10} s`;
}

const CLIENT_ERRORS: StatusMatch = { from: 400, to: 499 };

/** A refusal no retry can heal whatever its status (401, 403, 409): without it a deny would be retried as a 403. */
function permanentRefusal(azureCode: string, hint: string): ResponseRule {
  return {
    name: `permanent ${azureCode}`,
    statuses: CLIENT_ERRORS,
    azureCodes: [azureCode],
    failure: FailureType.Misconfigured,
    hint,
    message: (p) => `${p.statusCode} ${p.azureCode} ${p.what}: ${p.hint}. Not retried.${p.detail}`,
  };
}

function forbiddenMessage(p: RefusalMessageParts): string {
  const needs =
    p.target === 'twin'
      ? 'data actions Microsoft.Devices/IotHubs/twins/read and write'
      : 'Microsoft.Devices/IotHubs/securityPolicies/read and write';
  return (
    `${p.statusCode} ${p.azureCode ?? 'Forbidden'} ${p.what}: the principal lacks ${needs} at hub scope, or a new role ` +
    `assignment has not propagated yet. Will retry with a fresh token; if it persists, ${p.hint}.${p.detail}`
  );
}

const FORBIDDEN_HINT = "run 'policy-sync preflight' and 'policy-sync setup-rbac'";

/** In order: the first rule that matches decides. The last matches every answer. */
export const RESPONSE_RULES: readonly ResponseRule[] = [
  permanentRefusal(
    'RequestDisallowedByPolicy',
    'an Azure Policy assignment denies this request; ask its owner for an exemption or a change of the policy',
  ),
  permanentRefusal(
    'ScopeLocked',
    'a resource lock on the hub, its resource group or subscription refuses the write; remove the lock, or make it CanNotDelete',
  ),
  permanentRefusal(
    'InvalidAuthenticationTokenTenant',
    "the token was issued by another tenant than the subscription's; set AZURE_TENANT_ID to the tenant of AZURE_SUBSCRIPTION_ID",
  ),
  permanentRefusal(
    'InvalidAuthenticationTokenAudience',
    'the token is for another audience: tokens are requested for public Azure (management.azure.com, ' +
      'iothubs.azure.net), so ARM_ENDPOINT and IOT_HUB_HOST must be public Azure endpoints (sovereign clouds are not supported yet)',
  ),
  permanentRefusal(
    'IotHubQuotaExceeded',
    "the hub's daily quota is used up; add units to the hub or wait for the daily reset",
  ),
  permanentRefusal(
    'IotHubSuspended',
    'the hub is suspended; resume it (Azure portal: the hub, Overview) and run again',
  ),
  {
    name: 'forbidden',
    statuses: { in: [403] },
    failure: FailureType.AuthorizationFailed,
    hint: FORBIDDEN_HINT,
    message: forbiddenMessage,
  },
  {
    // IoT Hub answers a principal without the data action with 401 IotHubUnauthorized: a permission problem.
    name: 'IoT Hub unauthorized',
    statuses: { in: [401] },
    azureCodes: ['IotHubUnauthorized'],
    failure: FailureType.AuthorizationFailed,
    hint: FORBIDDEN_HINT,
    message: forbiddenMessage,
  },
  {
    name: 'token refused',
    statuses: { in: [401] },
    failure: FailureType.Unauthorized,
    hint: '',
    keepsClaims: true,
    message: (p) =>
      `401 ${p.azureCode ?? 'Unauthorized'} ${p.what}: the access token was refused (expired, revoked or for another audience). Will retry with a new token.${p.detail}`,
  },
  {
    name: 'throttled',
    statuses: { in: [429] },
    failure: FailureType.Throttled,
    hint: '',
    keepsRetryAfter: true,
    message: (p) =>
      `429 throttled ${p.what}: Azure asked to slow down; will retry after ${seconds(p.retryAfterInMs)}.${p.detail}`,
  },
  {
    name: 'resource type unsupported',
    statuses: { in: [404] },
    azureCodes: [
      'InvalidResourceType',
      'NoRegisteredProviderFound',
      'ResourceTypeNotSupported',
      'InvalidResourceNamespace',
      'MissingSubscriptionRegistration',
      'UnsupportedResourceType',
    ],
    failure: FailureType.TargetUnsupported,
    hint: "Set POLICY_TARGET=twin to write the policy as the device twin's desired property 'securityPolicy' instead",
    message: (p) =>
      `404 ${p.azureCode} ${p.what}: this Azure environment has no such resource type ` +
      `(${p.target === 'twin' ? 'POLICY_TARGET=twin' : 'POLICY_TARGET=arm'} is not available here). ${p.hint}.${p.detail}`,
  },
  {
    name: 'hub not found',
    statuses: { in: [404] },
    azureCodes: ['ResourceGroupNotFound', 'ParentResourceNotFound', 'SubscriptionNotFound', 'IotHubNotFound'],
    failure: FailureType.Misconfigured,
    hint: 'Check the configuration',
    message: (p) =>
      `404 ${p.azureCode} ${p.what}: the hub named by AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and ` +
      `IOT_HUB_NAME (or IOT_HUB_HOST) does not exist. ${p.hint}.${p.detail}`,
  },
  {
    name: 'device not found',
    statuses: { in: [404] },
    failure: FailureType.DeviceNotFound,
    hint: 'Remove it from the inventory or register it',
    message: (p) =>
      `404 ${p.azureCode ?? 'NotFound'} ${p.what}: the device is not registered in the hub. ${p.hint}.${p.detail}`,
  },
  {
    name: 'api-version unsupported',
    statuses: { in: [400] },
    azureCodes: [
      'NoRegisteredProviderFound',
      'InvalidApiVersionParameter',
      'MissingApiVersionParameter',
      'InvalidProtocolVersion',
    ],
    failure: FailureType.Misconfigured,
    hint: 'Check POLICY_API_VERSION (arm target) or use POLICY_TARGET=twin',
    message: (p) =>
      `400 ${p.azureCode} ${p.what}: the api-version is not supported here. ${p.hint}.${p.detail}`,
  },
  {
    name: 'policy refused',
    statuses: { in: [400, 413, 422] },
    failure: FailureType.InvalidPolicy,
    hint: 'fix the document in POLICIES_FILE',
    message: (p) =>
      `${p.statusCode} ${p.azureCode ?? 'BadRequest'} ${p.what}: Azure refused the policy document; ${p.hint}. Not retried.${p.detail}`,
  },
  {
    name: 'method not allowed',
    statuses: { in: [405] },
    failure: FailureType.TargetUnsupported,
    hint: 'try POLICY_TARGET=twin',
    message: (p) => `405 ${p.what}: the endpoint does not accept this method; ${p.hint}.${p.detail}`,
  },
  {
    name: 'temporary failure',
    failure: FailureType.Transient,
    hint: '',
    keepsRetryAfter: true,
    message: (p) =>
      `${p.statusCode} ${p.azureCode ?? 'error'} ${p.what}: a temporary failure on Azure's side; will retry after ${seconds(p.retryAfterInMs)}.${p.detail}`,
  },
];

/** The first rule of RESPONSE_RULES that matches the answer. */
export function matchResponseRule(facts: ResponseFacts): ResponseRule {
  const rule = RESPONSE_RULES.find((r) => ruleMatches(r, facts));
  // The last rule matches every answer.
  return rule ?? (RESPONSE_RULES.at(-1) as ResponseRule);
}
