/**
 * setup-rbac: the custom role "IoT Security Policy Manager" with exactly what the target needs,
 * assignable at the hub scope only, assigned to the service principal at the hub scope. Idempotent:
 * the role and assignment names are deterministic GUIDs, and nothing is written when Azure already
 * holds what we would write. Uses @azure/arm-authorization's AuthorizationManagementClient.
 */
import { createHash } from 'node:crypto';
import { AuthorizationManagementClient, type RoleDefinition } from '@azure/arm-authorization';
import type { TokenCredential } from '@azure/core-auth';
import { FailureType } from '../domain/failure-codes';
import type { PermissionReport } from '../domain/permissions';
import type { PolicyTarget } from '../domain/policy-target';
import { AzureRequestError, classifyAzureError, isAzureRequestError } from './errors';
import { CUSTOM_ROLE_NAME, customRolePermissions, type PermissionEntry } from './permissions';
import {
  waitForPropagation,
  type RolePropagationCheckOptions,
  type WaitForPropagationOptions,
} from './preflight';
import { ARM_SCOPE } from './token-provider';

/** Namespace of this product's name-based GUIDs. */
const GUID_NAMESPACE = '8b1f6d2c-3a4e-5f60-8172-93a4b5c6d7e8';

/** A name-based (version 5, SHA-1) UUID: the same name always gives the same GUID. */
export function nameBasedGuid(name: string, namespace: string = GUID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function customRoleGuid(hubScope: string): string {
  return nameBasedGuid(`role|${hubScope.toLowerCase()}|${CUSTOM_ROLE_NAME}`);
}

export function roleAssignmentGuid(hubScope: string, principalObjectId: string, roleGuid: string): string {
  return nameBasedGuid(
    `assignment|${hubScope.toLowerCase()}|${principalObjectId.toLowerCase()}|${roleGuid.toLowerCase()}`,
  );
}

/** The role definition setup-rbac writes for a target. Pure. */
export function customRoleDefinition(target: PolicyTarget, hubScope: string): RoleDefinition {
  return {
    roleName: CUSTOM_ROLE_NAME,
    description:
      target === 'twin'
        ? 'Reads and writes device twins of one IoT hub (desired property securityPolicy). Managed by iot-policy-sync setup-rbac.'
        : 'Reads and writes the security policies of one IoT hub. Managed by iot-policy-sync setup-rbac.',
    roleType: 'CustomRole',
    permissions: [customRolePermissions(target)],
    assignableScopes: [hubScope],
  };
}

function normalizedList(list: string[] | undefined): string[] {
  return [...new Set((list ?? []).map((a) => a.toLowerCase()))].sort();
}

function samePermissions(a: PermissionEntry[] | undefined, b: PermissionEntry[] | undefined): boolean {
  const key = (entries: PermissionEntry[] | undefined) =>
    JSON.stringify(
      (entries ?? []).map((e) => [
        normalizedList(e.actions),
        normalizedList(e.notActions),
        normalizedList(e.dataActions),
        normalizedList(e.notDataActions),
      ]),
    );
  return key(a) === key(b);
}

/** Whether an existing definition already grants exactly what `desired` does, assignable where it should be. */
export function roleDefinitionMatches(existing: RoleDefinition, desired: RoleDefinition): boolean {
  return (
    existing.roleName === desired.roleName &&
    samePermissions(existing.permissions, desired.permissions) &&
    JSON.stringify(normalizedList(existing.assignableScopes)) ===
      JSON.stringify(normalizedList(desired.assignableScopes))
  );
}

export interface SetupRbacOptions {
  /** ARM credential (e.g. the ARM TokenProvider's `asTokenCredential()`). */
  credential: TokenCredential;
  armEndpoint: string;
  subscriptionId: string;
  hubScope: string;
  /** The service principal's object id (SERVICE_PRINCIPAL_OBJECT_ID or --principal-id). */
  principalObjectId: string;
  target: PolicyTarget;
  /** Wait for the assignment to become effective, with these checks; skipped when omitted. */
  propagation?: { check: RolePropagationCheckOptions; wait?: Omit<WaitForPropagationOptions, 'target'> };
  abortSignal?: AbortSignal;
  /** Progress lines for the CLI. */
  onProgress?: (message: string) => void;
}

export type ChangeKind = 'created' | 'updated' | 'unchanged';

export interface SetupRbacResult {
  roleDefinitionId: string;
  roleName: string;
  role: ChangeKind;
  roleAssignmentId: string;
  assignment: 'created' | 'unchanged';
  /** The propagation check's last report, when waiting was asked for. */
  permissions?: PermissionReport;
}

interface RestErrorLike {
  name: string;
  statusCode?: number;
  code?: string;
  message: string;
}

function isRestError(error: unknown): error is RestErrorLike {
  return error instanceof Error && error.name === 'RestError';
}

/**
 * Turns the SDK's RestError into this layer's error, with the plain message InvalidActionOrNotAction deserves
 * and a what-to-do for refusals the configuration must fix. Exported for tests.
 */
export function toAzureError(error: unknown, operation: string, target: PolicyTarget): AzureRequestError {
  if (isAzureRequestError(error)) return error;
  if (!isRestError(error) || error.statusCode === undefined)
    return classifyAzureError({ error }, { operation });
  const code = error.code ?? '';
  if (/^Invalid(Data)?ActionOr(Not)?(Data)?Action$/i.test(code) || /InvalidActionOrNotAction/i.test(code)) {
    return new AzureRequestError({
      code: FailureType.TargetUnsupported,
      statusCode: error.statusCode,
      azureCode: code,
      message:
        `Azure refused the custom role '${CUSTOM_ROLE_NAME}' (${code}): ${error.message} ` +
        (target === 'arm'
          ? 'This Azure environment has no Microsoft.Devices/IotHubs/securityPolicies actions (public Azure does not ' +
            'publish them). Set POLICY_TARGET=twin and run setup-rbac again: the twin target needs only the ' +
            'data actions Microsoft.Devices/IotHubs/twins/read and /write.'
          : 'Check that the data actions Microsoft.Devices/IotHubs/twins/read and /write exist in this cloud.'),
    });
  }
  const hint = RBAC_REFUSAL_HINTS[code.toLowerCase()];
  if (hint !== undefined) {
    return new AzureRequestError({
      code: FailureType.Misconfigured,
      statusCode: error.statusCode,
      azureCode: code,
      message: `${operation}: Azure answered ${error.statusCode} ${code}: ${hint} Azure said: ${error.message}`,
    });
  }
  return classifyAzureError(
    { statusCode: error.statusCode, headers: {}, body: { error: { code, message: error.message } } },
    { operation, target },
  );
}

/** setup-rbac refusals that are the configuration's to fix, by lower-cased code. */
const RBAC_REFUSAL_HINTS: Record<string, string> = {
  roledefinitionwithsamenameexists:
    `custom role names are unique in a tenant, and a role named '${CUSTOM_ROLE_NAME}' exists that is not ` +
    "assignable at this hub (another hub's setup-rbac, or one made by hand). Add this hub's scope to that role's " +
    'assignableScopes (az role definition update), or delete it, then run setup-rbac again.',
  principalnotfound:
    'no principal with that object id exists in the tenant. --principal-id / SERVICE_PRINCIPAL_OBJECT_ID takes the ' +
    "service principal's object id (Enterprise applications, or az ad sp show --id <client id> --query id), not the " +
    "application's object id or its client id.",
};

/** Creates or updates the custom role and its assignment at hub scope, then (optionally) waits for propagation. */
export async function setupRbac(options: SetupRbacOptions): Promise<SetupRbacResult> {
  const progress = options.onProgress ?? (() => undefined);
  const client = new AuthorizationManagementClient(options.credential, options.subscriptionId, {
    endpoint: options.armEndpoint,
    credentialScopes: [ARM_SCOPE],
  });
  const request = { abortSignal: options.abortSignal };
  const desired = customRoleDefinition(options.target, options.hubScope);

  // 1. The role: reuse one of the same name (created earlier by hand or by another scope's run), else ours.
  let roleGuid = customRoleGuid(options.hubScope);
  let role: ChangeKind;
  let roleDefinitionId: string;
  try {
    let existing: RoleDefinition | undefined;
    for await (const definition of client.roleDefinitions.list(options.hubScope, {
      ...request,
      filter: `roleName eq '${CUSTOM_ROLE_NAME.replace(/'/g, "''")}'`,
    })) {
      if (definition.roleName === CUSTOM_ROLE_NAME) existing = definition;
    }
    if (existing?.name) roleGuid = existing.name;
    if (existing && roleDefinitionMatches(existing, desired)) {
      role = 'unchanged';
      roleDefinitionId = existing.id ?? '';
      progress(`Role '${CUSTOM_ROLE_NAME}' is up to date (${roleGuid}).`);
    } else {
      const written = await client.roleDefinitions.createOrUpdate(
        options.hubScope,
        roleGuid,
        desired,
        request,
      );
      role = existing ? 'updated' : 'created';
      roleDefinitionId = written.id ?? '';
      progress(`Role '${CUSTOM_ROLE_NAME}' ${role} (${roleGuid}).`);
    }
  } catch (error) {
    throw toAzureError(error, `creating the custom role '${CUSTOM_ROLE_NAME}'`, options.target);
  }
  if (!roleDefinitionId) {
    roleDefinitionId = `/subscriptions/${options.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`;
  }

  // 2. The assignment: any existing one of this role to this principal at exactly this scope will do.
  const assignmentName = roleAssignmentGuid(options.hubScope, options.principalObjectId, roleGuid);
  let assignment: 'created' | 'unchanged' = 'unchanged';
  let roleAssignmentId = `${options.hubScope}/providers/Microsoft.Authorization/roleAssignments/${assignmentName}`;
  try {
    let found: string | undefined;
    for await (const existing of client.roleAssignments.listForScope(options.hubScope, {
      ...request,
      filter: `atScope() and assignedTo('${options.principalObjectId}')`,
    })) {
      const sameRole = existing.roleDefinitionId?.toLowerCase().endsWith(`/${roleGuid.toLowerCase()}`);
      const sameScope = existing.scope?.toLowerCase() === options.hubScope.toLowerCase();
      if (sameRole && sameScope && existing.id) found = existing.id;
    }
    if (found) {
      roleAssignmentId = found;
      progress(`Role assignment at hub scope already exists.`);
    } else {
      try {
        const created = await client.roleAssignments.create(
          options.hubScope,
          assignmentName,
          { roleDefinitionId, principalId: options.principalObjectId, principalType: 'ServicePrincipal' },
          request,
        );
        assignment = 'created';
        roleAssignmentId = created.id ?? roleAssignmentId;
        progress(`Role assignment created at hub scope (${assignmentName}).`);
      } catch (error) {
        if (!(isRestError(error) && error.code === 'RoleAssignmentExists')) throw error;
        progress(`Role assignment at hub scope already exists.`);
      }
    }
  } catch (error) {
    throw toAzureError(
      error,
      `assigning '${CUSTOM_ROLE_NAME}' to principal ${options.principalObjectId}`,
      options.target,
    );
  }

  const result: SetupRbacResult = {
    roleDefinitionId,
    roleName: CUSTOM_ROLE_NAME,
    role,
    roleAssignmentId,
    assignment,
  };
  if (options.propagation) {
    progress('Waiting for the assignment to become effective (Azure takes up to 10 minutes)…');
    result.permissions = await waitForPropagation(options.propagation.check, {
      ...(options.propagation.wait ?? {}),
      target: options.target,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
  }
  return result;
}
