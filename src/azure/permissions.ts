/**
 * Azure RBAC's permission evaluation, pure: which of the actions a target needs are effective, given the
 * `permissions` list ARM returns for a scope. Matching follows Azure's rules: case-insensitive, `*`
 * matches any run of characters (including '/'), and an action is granted by a permission entry when it
 * matches one of its actions and none of the same entry's notActions (likewise dataActions/notDataActions).
 */
import type { PolicyTarget } from '../domain/policy-target';

/** One entry of Microsoft.Authorization/permissions or a role definition's `permissions`. */
export interface PermissionEntry {
  actions?: string[];
  notActions?: string[];
  dataActions?: string[];
  notDataActions?: string[];
}

export interface RequiredActions {
  /** Control-plane actions. */
  actions: string[];
  /** Data-plane actions. */
  dataActions: string[];
}

/** The custom role setup-rbac creates and preflight points to. */
export const CUSTOM_ROLE_NAME = 'IoT Security Policy Manager';

/** What each target needs at hub scope to read and write policies. */
export function requiredActions(target: PolicyTarget): RequiredActions {
  return target === 'twin'
    ? {
        actions: [],
        dataActions: ['Microsoft.Devices/IotHubs/twins/read', 'Microsoft.Devices/IotHubs/twins/write'],
      }
    : {
        actions: [
          'Microsoft.Devices/IotHubs/securityPolicies/read',
          'Microsoft.Devices/IotHubs/securityPolicies/write',
        ],
        dataActions: [],
      };
}

/** What the custom role grants for each target: what is needed, plus the closely related actions. */
export function customRolePermissions(target: PolicyTarget): Required<PermissionEntry> {
  return target === 'twin'
    ? {
        actions: [],
        notActions: [],
        dataActions: ['Microsoft.Devices/IotHubs/twins/read', 'Microsoft.Devices/IotHubs/twins/write'],
        notDataActions: [],
      }
    : {
        actions: [
          'Microsoft.Devices/IotHubs/securityPolicies/read',
          'Microsoft.Devices/IotHubs/securityPolicies/write',
          'Microsoft.Devices/IotHubs/securityPolicies/delete',
          'Microsoft.Devices/IotHubs/securitySettings/read',
          'Microsoft.Devices/IotHubs/securitySettings/write',
        ],
        notActions: [],
        dataActions: [],
        notDataActions: [],
      };
}

const patternCache = new Map<string, RegExp>();

/** Whether an action matches an Azure permission pattern (case-insensitive; `*` matches anything, '/' too). */
export function actionMatches(pattern: string, action: string): boolean {
  const key = pattern.toLowerCase();
  let regex = patternCache.get(key);
  if (!regex) {
    const body = key
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${body}$`, 'is');
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(key, regex);
  }
  return regex.test(action);
}

function grantedBy(entry: PermissionEntry, action: string, data: boolean): boolean {
  const allow = (data ? entry.dataActions : entry.actions) ?? [];
  const deny = (data ? entry.notDataActions : entry.notActions) ?? [];
  return allow.some((p) => actionMatches(p, action)) && !deny.some((p) => actionMatches(p, action));
}

/** Whether one action is effective under any of the entries (each entry's not-list applies to itself only). */
export function isActionGranted(permissions: PermissionEntry[], action: string, data = false): boolean {
  return permissions.some((entry) => grantedBy(entry, action, data));
}

/** The required actions not effective under `permissions`, data actions included, in the order required. */
export function evaluatePermissions(permissions: PermissionEntry[], required: RequiredActions): string[] {
  return [
    ...required.actions.filter((a) => !isActionGranted(permissions, a, false)),
    ...required.dataActions.filter((a) => !isActionGranted(permissions, a, true)),
  ];
}
