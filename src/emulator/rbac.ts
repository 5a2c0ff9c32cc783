import { operationMatches, type PermissionKind } from './catalog';
import type { PropagationFault } from './fault-settings';

/** One permission block of a role definition, as ARM spells it. */
export interface RolePermission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleDefinitionRecord {
  /** The definition's GUID (its ARM `name`). */
  guid: string;
  roleName: string;
  description: string;
  roleType: 'BuiltInRole' | 'CustomRole';
  permissions: RolePermission[];
  assignableScopes: string[];
  createdOn: string;
  updatedOn: string;
}

export interface RoleAssignmentRecord {
  name: string;
  scope: string;
  roleDefinitionGuid: string;
  principalId: string;
  principalType: string;
  description: string | null;
  createdAtMs: number;
  createdOn: string;
  updatedOn: string;
}

/**
 * Where an assignment stands in its propagation: `pending` (not yet visible anywhere), `settling` (visible,
 * but a share of the calls it authorizes are still refused) or `settled`.
 */
export type PropagationPhase = 'pending' | 'settling' | 'settled';

/** `granted` by a settled assignment, `settling` when only settling assignments grant it, else `denied`. */
export type AccessDecision = 'granted' | 'settling' | 'denied';

/** The role the principal holds at hub scope from the start: what the seed's operators had granted. */
export const startRoleGuid = '5d9f3b6a-7c21-4e8b-9f0a-1c2d3e4f5a6b';
export const startAssignmentName = 'a1c3e5f7-0000-4000-8000-000000000001';

export class RbacStore {
  readonly definitions = new Map<string, RoleDefinitionRecord>();
  readonly assignments = new Map<string, RoleAssignmentRecord>();

  definition(guid: string): RoleDefinitionRecord | undefined {
    return this.definitions.get(guid.toLowerCase());
  }

  assignment(name: string): RoleAssignmentRecord | undefined {
    return this.assignments.get(name.toLowerCase());
  }

  putDefinition(definition: RoleDefinitionRecord): void {
    this.definitions.set(definition.guid.toLowerCase(), definition);
  }

  putAssignment(assignment: RoleAssignmentRecord): void {
    this.assignments.set(assignment.name.toLowerCase(), assignment);
  }

  /** The principal's assignments at `scope` or above it. */
  assignmentsCovering(principalId: string, scope: string): RoleAssignmentRecord[] {
    return [...this.assignments.values()].filter(
      (assignment) => sameId(assignment.principalId, principalId) && scopeContains(assignment.scope, scope),
    );
  }

  /** Permission blocks of the principal's visible assignments at `scope` or above: ARM's permissions list. */
  effectivePermissions(
    principalId: string,
    scope: string,
    nowMs: number,
    propagation: PropagationFault,
  ): RolePermission[] {
    return this.assignmentsCovering(principalId, scope)
      .filter((assignment) => propagationPhase(assignment, nowMs, propagation) !== 'pending')
      .flatMap((assignment) => this.definition(assignment.roleDefinitionGuid)?.permissions ?? []);
  }

  decideAccess(
    principalId: string,
    scope: string,
    operation: string,
    kind: PermissionKind,
    nowMs: number,
    propagation: PropagationFault,
  ): AccessDecision {
    let decision: AccessDecision = 'denied';
    for (const assignment of this.assignmentsCovering(principalId, scope)) {
      const phase = propagationPhase(assignment, nowMs, propagation);
      if (phase === 'pending') continue;
      const permissions = this.definition(assignment.roleDefinitionGuid)?.permissions ?? [];
      if (!permissions.some((permission) => permits(permission, operation, kind))) continue;
      if (phase === 'settled') return 'granted';
      decision = 'settling';
    }
    return decision;
  }
}

export function propagationPhase(
  assignment: RoleAssignmentRecord,
  nowMs: number,
  propagation: PropagationFault,
): PropagationPhase {
  const visibleAt = assignment.createdAtMs + propagation.delayMs;
  if (nowMs < visibleAt) return 'pending';
  return nowMs < visibleAt + propagation.flakyWindowMs ? 'settling' : 'settled';
}

/** Whether one permission block allows the operation: some action matches and no notAction does. */
export function permits(permission: RolePermission, operation: string, kind: PermissionKind): boolean {
  const [allowed, excluded] =
    kind === 'action'
      ? [permission.actions, permission.notActions]
      : [permission.dataActions, permission.notDataActions];
  return (
    allowed.some((pattern) => operationMatches(pattern, operation)) &&
    !excluded.some((pattern) => operationMatches(pattern, operation))
  );
}

/** Whether `scope` is `ancestor` or lies beneath it. Scopes compare case-insensitively. */
export function scopeContains(ancestor: string, scope: string): boolean {
  const outer = normalizeScope(ancestor);
  const inner = normalizeScope(scope);
  return outer === '/' || inner === outer || inner.startsWith(`${outer}/`);
}

export function normalizeScope(scope: string): string {
  const segments = scope.split('/').filter(Boolean);
  return `/${segments.join('/')}`.toLowerCase();
}

export function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Built-in roles worth finding by name, plus the emulator's own start role. */
export function builtInRoles(includeSecurityPolicies: boolean): RoleDefinitionRecord[] {
  const builtIn = (
    guid: string,
    roleName: string,
    description: string,
    permission: Partial<RolePermission>,
  ): RoleDefinitionRecord => ({
    guid,
    roleName,
    description,
    roleType: 'BuiltInRole',
    permissions: [{ actions: [], notActions: [], dataActions: [], notDataActions: [], ...permission }],
    assignableScopes: ['/'],
    createdOn: '2015-02-02T21:55:09.8806423Z',
    updatedOn: '2021-11-11T20:13:28.6061853Z',
  });
  const securityPolicies = includeSecurityPolicies
    ? [
        'Microsoft.Devices/IotHubs/securityPolicies/read',
        'Microsoft.Devices/IotHubs/securityPolicies/write',
        'Microsoft.Devices/IotHubs/securityPolicies/delete',
      ]
    : [];
  return [
    builtIn('8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'Owner', 'Grants full access to manage all resources.', {
      actions: ['*'],
    }),
    builtIn(
      'b24988ac-6180-42a0-ab88-20f7382dd24c',
      'Contributor',
      'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.',
      {
        actions: ['*'],
        notActions: [
          'Microsoft.Authorization/*/Delete',
          'Microsoft.Authorization/*/Write',
          'Microsoft.Authorization/elevateAccess/Action',
        ],
      },
    ),
    builtIn('acdd72a7-3385-48ef-bd42-f606fba81ae7', 'Reader', 'View all resources.', { actions: ['*/read'] }),
    builtIn(
      '4fc6c259-987e-4a07-842e-c321cc9d413f',
      'IoT Hub Data Contributor',
      'Allows for full access to IoT Hub data plane operations.',
      { dataActions: ['Microsoft.Devices/IotHubs/*'] },
    ),
    builtIn(
      'b447c946-2db7-41ec-983d-d8bf3b1c77e3',
      'IoT Hub Data Reader',
      'Allows for full read access to IoT Hub data-plane properties',
      {
        dataActions: [
          'Microsoft.Devices/IotHubs/*/read',
          'Microsoft.Devices/IotHubs/fileUpload/notifications/action',
        ],
      },
    ),
    builtIn(
      '494bdba2-168f-4f31-a0a1-191d2f7c028c',
      'IoT Hub Twin Contributor',
      'Allows for read and write access to all IoT Hub device and module twins.',
      { dataActions: ['Microsoft.Devices/IotHubs/twins/*'] },
    ),
    builtIn(
      startRoleGuid,
      'IoT Hub Security Policy Operator (emulator)',
      "The emulator's stand-in for the role the seed environment granted: security policies, security settings and twins.",
      {
        actions: [
          ...securityPolicies,
          'Microsoft.Devices/iotHubs/securitySettings/Read',
          'Microsoft.Devices/iotHubs/securitySettings/Write',
        ],
        dataActions: ['Microsoft.Devices/IotHubs/twins/read', 'Microsoft.Devices/IotHubs/twins/write'],
      },
    ),
  ];
}
