import {
  authorizationApiVersions,
  requireApiVersion,
  resolveScope,
  type ArmCaller,
  type ArmScope,
  type ArmTarget,
} from './arm-paths';
import { isPublishedOperation, type PermissionKind } from './catalog';
import { isJsonObject } from './devices';
import { EmulatorHttpError, parseJsonBody, type EmulatorRequest, type EmulatorResponse } from './http';
import {
  normalizeScope,
  sameId,
  scopeContains,
  type RoleAssignmentRecord,
  type RoleDefinitionRecord,
  type RolePermission,
} from './rbac';
import type { EmulatorWorld } from './world';

type AuthorizationTarget = Extract<ArmTarget, { kind: 'authorization' }>;

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Microsoft.Authorization: permissions, roleDefinitions, roleAssignments. The emulator's principal may always
 * read and write these (as if it were Owner of the subscription); that standing is implicit and is not part
 * of any permissions list, so preflight sees only what the hub's assignments grant.
 */
export function handleAuthorizationRequest(
  request: EmulatorRequest,
  world: EmulatorWorld,
  caller: ArmCaller,
  target: AuthorizationTarget,
): EmulatorResponse {
  requireApiVersion(request, authorizationApiVersions, 'Microsoft.Authorization');
  const { method } = request;
  switch (target.collection) {
    case 'permissions':
      if (method !== 'GET') throw methodNotAllowed(request);
      if (target.at.level === 'tenant') throw invalidScope(target.at.scope);
      return {
        status: 200,
        body: {
          value: world.rbac
            .effectivePermissions(
              caller.objectId,
              target.at.scope,
              world.now(),
              world.faults.current.propagation,
            )
            .map(clonePermission),
        },
      };
    case 'roleDefinitions':
      if (target.name === undefined) {
        if (method !== 'GET') throw methodNotAllowed(request);
        return listRoleDefinitions(request, world, target.at);
      }
      if (method === 'GET') return getRoleDefinition(world, target.at, target.name);
      if (method === 'PUT') return putRoleDefinition(request, world, target.at, target.name);
      if (method === 'DELETE') return deleteRoleDefinition(world, target.at, target.name);
      throw methodNotAllowed(request);
    case 'roleAssignments':
      if (target.name === undefined) {
        if (method !== 'GET') throw methodNotAllowed(request);
        return listRoleAssignments(request, world, target.at);
      }
      if (method === 'GET') return getRoleAssignment(world, target.at, target.name);
      if (method === 'PUT') return putRoleAssignment(request, world, target.at, target.name);
      if (method === 'DELETE') return deleteRoleAssignment(world, target.at, target.name);
      throw methodNotAllowed(request);
  }
}

function listRoleDefinitions(request: EmulatorRequest, world: EmulatorWorld, at: ArmScope): EmulatorResponse {
  const filter = request.query.get('$filter');
  let predicate: (definition: RoleDefinitionRecord) => boolean = () => true;
  if (filter) {
    const match = /^\s*(roleName|type)\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(filter);
    if (!match?.[1] || match[2] === undefined) {
      throw new EmulatorHttpError(
        400,
        'InvalidFilterInQueryString',
        `The filter '${filter}' is not supported. Use roleName eq '{name}' or type eq '{type}'.`,
      );
    }
    const field = match[1].toLowerCase();
    const value = match[2].replace(/''/g, "'").toLowerCase();
    predicate = (definition) =>
      (field === 'rolename' ? definition.roleName : definition.roleType).toLowerCase() === value;
  }
  const visible = [...world.rbac.definitions.values()].filter(
    (definition) => assignableAt(definition, at.scope) && predicate(definition),
  );
  return {
    status: 200,
    body: { value: visible.map((definition) => renderRoleDefinition(world, definition)) },
  };
}

function getRoleDefinition(world: EmulatorWorld, at: ArmScope, guid: string): EmulatorResponse {
  const definition = world.rbac.definition(guid);
  if (!definition || (at.level !== 'tenant' && !assignableAt(definition, at.scope))) {
    throw roleDefinitionDoesNotExist(guid, 404);
  }
  return { status: 200, body: renderRoleDefinition(world, definition) };
}

function putRoleDefinition(
  request: EmulatorRequest,
  world: EmulatorWorld,
  at: ArmScope,
  guid: string,
): EmulatorResponse {
  if (!guidPattern.test(guid)) {
    throw new EmulatorHttpError(
      400,
      'InvalidRoleDefinitionId',
      `The role definition ID '${guid}' is not valid. The role definition ID must be a GUID.`,
    );
  }
  if (at.level === 'tenant') throw invalidScope(at.scope);
  const properties = requireProperties(request);
  const roleName = properties['roleName'];
  if (typeof roleName !== 'string' || roleName.trim() === '') {
    throw new EmulatorHttpError(400, 'InvalidRequestContent', 'The role definition must have a roleName.');
  }
  const roleType = properties['type'] ?? properties['roleType'] ?? 'CustomRole';
  const existing = world.rbac.definition(guid);
  if (roleType !== 'CustomRole' || existing?.roleType === 'BuiltInRole') {
    throw new EmulatorHttpError(
      400,
      'InvalidRoleDefinition',
      'Only custom roles can be created or updated; built-in roles cannot be changed.',
    );
  }
  const permissions = readPermissions(properties['permissions']);
  for (const permission of permissions) validateOperations(world, permission);
  const assignableScopes = readAssignableScopes(world, properties['assignableScopes']);
  const sameName = [...world.rbac.definitions.values()].find(
    (definition) =>
      definition.roleName.toLowerCase() === roleName.trim().toLowerCase() && !sameId(definition.guid, guid),
  );
  if (sameName) {
    throw new EmulatorHttpError(
      409,
      'RoleDefinitionWithSameNameExists',
      'A custom role with the same name already exists in this directory. Use a different name.',
    );
  }
  const nowIso = new Date(world.now()).toISOString();
  const description = properties['description'];
  const definition: RoleDefinitionRecord = {
    guid: guid.toLowerCase(),
    roleName: roleName.trim(),
    description: typeof description === 'string' ? description : '',
    roleType: 'CustomRole',
    permissions,
    assignableScopes,
    createdOn: existing?.createdOn ?? nowIso,
    updatedOn: nowIso,
  };
  world.rbac.putDefinition(definition);
  // ARM answers 201 to both create and update of a role definition; the SDK accepts nothing else.
  return { status: 201, body: renderRoleDefinition(world, definition) };
}

function deleteRoleDefinition(world: EmulatorWorld, at: ArmScope, guid: string): EmulatorResponse {
  const definition = world.rbac.definition(guid);
  if (!definition || (at.level !== 'tenant' && !assignableAt(definition, at.scope))) return { status: 204 };
  if (definition.roleType === 'BuiltInRole') {
    throw new EmulatorHttpError(400, 'InvalidRoleDefinition', 'Built-in roles cannot be deleted.');
  }
  const inUse = [...world.rbac.assignments.values()].some((assignment) =>
    sameId(assignment.roleDefinitionGuid, guid),
  );
  if (inUse) {
    throw new EmulatorHttpError(
      409,
      'RoleDefinitionHasAssignments',
      'There are existing role assignments referencing role (code: RoleDefinitionHasAssignments).',
    );
  }
  world.rbac.definitions.delete(definition.guid);
  return { status: 200, body: renderRoleDefinition(world, definition) };
}

function listRoleAssignments(request: EmulatorRequest, world: EmulatorWorld, at: ArmScope): EmulatorResponse {
  const filter = parseAssignmentFilter(request.query.get('$filter'));
  const matches = [...world.rbac.assignments.values()].filter((assignment) => {
    const above = scopeContains(assignment.scope, at.scope);
    const below = scopeContains(at.scope, assignment.scope);
    if (filter.atScope ? !above : !(above || below)) return false;
    return filter.principalId === undefined || sameId(assignment.principalId, filter.principalId);
  });
  return {
    status: 200,
    body: { value: matches.map((assignment) => renderRoleAssignment(world, assignment)) },
  };
}

function getRoleAssignment(world: EmulatorWorld, at: ArmScope, name: string): EmulatorResponse {
  const assignment = world.rbac.assignment(name);
  if (!assignment || normalizeScope(assignment.scope) !== normalizeScope(at.scope)) {
    throw new EmulatorHttpError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
  }
  return { status: 200, body: renderRoleAssignment(world, assignment) };
}

function putRoleAssignment(
  request: EmulatorRequest,
  world: EmulatorWorld,
  at: ArmScope,
  name: string,
): EmulatorResponse {
  if (!guidPattern.test(name)) {
    throw new EmulatorHttpError(
      400,
      'InvalidRoleAssignmentId',
      `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
    );
  }
  if (at.level === 'tenant') throw invalidScope(at.scope);
  const properties = requireProperties(request);
  const roleDefinitionId = properties['roleDefinitionId'];
  const principalId = properties['principalId'];
  if (typeof roleDefinitionId !== 'string' || typeof principalId !== 'string') {
    throw new EmulatorHttpError(
      400,
      'InvalidRequestContent',
      'The role assignment must have properties.roleDefinitionId and properties.principalId.',
    );
  }
  const roleGuid =
    /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([^/]+)$/i.exec(roleDefinitionId)?.[1] ??
    roleDefinitionId;
  if (!guidPattern.test(roleGuid)) {
    throw new EmulatorHttpError(
      400,
      'InvalidRoleDefinitionId',
      `The role definition ID '${roleDefinitionId}' is not valid.`,
    );
  }
  const definition = world.rbac.definition(roleGuid);
  // A role is only visible where it is assignable: elsewhere ARM does not find it.
  if (!definition || !assignableAt(definition, at.scope)) throw roleDefinitionDoesNotExist(roleGuid, 400);
  if (!sameId(principalId, world.principal.objectId)) {
    throw new EmulatorHttpError(
      400,
      'PrincipalNotFound',
      `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${world.principal.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
    );
  }
  const principalType = properties['principalType'] ?? 'ServicePrincipal';
  if (principalType !== 'ServicePrincipal') {
    throw new EmulatorHttpError(
      400,
      'UnmatchedPrincipalType',
      `The PrincipalId '${principalId.replace(/-/g, '')}' has type 'ServicePrincipal' , which is different from specified PrincipalType '${String(principalType)}'.`,
    );
  }
  const existing = world.rbac.assignment(name);
  const samePrincipalRoleScope = (assignment: RoleAssignmentRecord): boolean =>
    sameId(assignment.principalId, principalId) &&
    sameId(assignment.roleDefinitionGuid, roleGuid) &&
    normalizeScope(assignment.scope) === normalizeScope(at.scope);
  if (existing) {
    if (!samePrincipalRoleScope(existing)) {
      throw new EmulatorHttpError(
        400,
        'RoleAssignmentUpdateNotPermitted',
        'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
      );
    }
    return { status: 200, body: renderRoleAssignment(world, existing) };
  }
  if ([...world.rbac.assignments.values()].some(samePrincipalRoleScope)) {
    throw new EmulatorHttpError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
  }
  const nowMs = world.now();
  const nowIso = new Date(nowMs).toISOString();
  const description = properties['description'];
  const assignment: RoleAssignmentRecord = {
    name: name.toLowerCase(),
    scope: at.scope,
    roleDefinitionGuid: definition.guid,
    principalId: principalId.toLowerCase(),
    principalType: 'ServicePrincipal',
    description: typeof description === 'string' ? description : null,
    createdAtMs: nowMs,
    createdOn: nowIso,
    updatedOn: nowIso,
  };
  world.rbac.putAssignment(assignment);
  return { status: 201, body: renderRoleAssignment(world, assignment) };
}

function deleteRoleAssignment(world: EmulatorWorld, at: ArmScope, name: string): EmulatorResponse {
  const assignment = world.rbac.assignment(name);
  if (!assignment || normalizeScope(assignment.scope) !== normalizeScope(at.scope)) return { status: 204 };
  world.rbac.assignments.delete(assignment.name.toLowerCase());
  return { status: 200, body: renderRoleAssignment(world, assignment) };
}

/** `principalId eq '…'`, `assignedTo('…')`, `atScope()`, joined by `and`. */
function parseAssignmentFilter(filter: string | null): { principalId?: string; atScope: boolean } {
  const result: { principalId?: string; atScope: boolean } = { atScope: false };
  if (!filter) return result;
  for (const clause of filter.split(/\s+and\s+/i)) {
    const principal = /^\s*(?:principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))\s*$/i.exec(clause);
    if (principal) {
      result.principalId = principal[1] ?? principal[2] ?? '';
    } else if (/^\s*atScope\(\)\s*$/i.test(clause)) {
      result.atScope = true;
    } else {
      throw new EmulatorHttpError(
        400,
        'InvalidFilterInQueryString',
        `The filter '${filter}' is not supported. Use principalId eq '{id}', assignedTo('{id}') or atScope().`,
      );
    }
  }
  return result;
}

function requireProperties(request: EmulatorRequest): Record<string, unknown> {
  const parsed = parseJsonBody(request);
  if (!parsed.ok || !isJsonObject(parsed.value)) {
    throw new EmulatorHttpError(
      400,
      'InvalidRequestContent',
      'The request content was invalid and could not be deserialized: the body must be a JSON object.',
    );
  }
  const properties = parsed.value['properties'];
  if (!isJsonObject(properties)) {
    throw new EmulatorHttpError(
      400,
      'InvalidRequestContent',
      "The request content was invalid and could not be deserialized: 'properties' is required.",
    );
  }
  return properties;
}

function readPermissions(value: unknown): RolePermission[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new EmulatorHttpError(
      400,
      'InvalidRequestContent',
      'The role definition must have at least one permission block.',
    );
  }
  return value.map((entry): RolePermission => {
    if (!isJsonObject(entry)) {
      throw new EmulatorHttpError(
        400,
        'InvalidRequestContent',
        'Each permission block must be a JSON object.',
      );
    }
    const list = (key: keyof RolePermission): string[] => {
      const items = entry[key] ?? [];
      if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) {
        throw new EmulatorHttpError(400, 'InvalidRequestContent', `'${key}' must be an array of strings.`);
      }
      return [...items];
    };
    return {
      actions: list('actions'),
      notActions: list('notActions'),
      dataActions: list('dataActions'),
      notDataActions: list('notDataActions'),
    };
  });
}

/** 400 InvalidActionOrNotAction (or its data-action twin) for the first operation the provider does not publish. */
function validateOperations(world: EmulatorWorld, permission: RolePermission): void {
  const check = (kind: PermissionKind, operations: string[]): void => {
    const unknown = operations.find((operation) => !isPublishedOperation(world.catalog, kind, operation));
    if (unknown === undefined) return;
    throw kind === 'action'
      ? new EmulatorHttpError(
          400,
          'InvalidActionOrNotAction',
          `'${unknown}' does not match any of the actions supported by the providers.`,
        )
      : new EmulatorHttpError(
          400,
          'InvalidDataActionOrNotDataAction',
          `'${unknown}' does not match any of the data actions supported by the providers.`,
        );
  };
  check('action', [...permission.actions, ...permission.notActions]);
  check('dataAction', [...permission.dataActions, ...permission.notDataActions]);
}

function readAssignableScopes(world: EmulatorWorld, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === 'string')) {
    throw new EmulatorHttpError(
      400,
      'InvalidAssignableScope',
      'The role definition must have at least one assignable scope.',
    );
  }
  return value.map((scope: string) => {
    const segments = scope.split('/').filter(Boolean);
    if (segments.length === 0) {
      throw new EmulatorHttpError(
        400,
        'InvalidAssignableScope',
        "The root scope '/' is not allowed as an assignable scope of a custom role.",
      );
    }
    try {
      const { at, rest } = resolveScope(segments, world);
      if (rest.length > 0) throw new Error('below the hub');
      return at.scope;
    } catch {
      throw new EmulatorHttpError(
        400,
        'InvalidAssignableScope',
        `The assignable scope '${scope}' is not valid or does not exist.`,
      );
    }
  });
}

function assignableAt(definition: RoleDefinitionRecord, scope: string): boolean {
  return definition.assignableScopes.some((assignable) => scopeContains(assignable, scope));
}

function renderRoleDefinition(
  world: EmulatorWorld,
  definition: RoleDefinitionRecord,
): Record<string, unknown> {
  return {
    id: `/subscriptions/${world.hub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${definition.guid}`,
    name: definition.guid,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: definition.roleName,
      type: definition.roleType,
      description: definition.description,
      assignableScopes: [...definition.assignableScopes],
      permissions: definition.permissions.map(clonePermission),
      createdOn: definition.createdOn,
      updatedOn: definition.updatedOn,
      createdBy: null,
      updatedBy: null,
    },
  };
}

function renderRoleAssignment(
  world: EmulatorWorld,
  assignment: RoleAssignmentRecord,
): Record<string, unknown> {
  return {
    id: `${assignment.scope}/providers/Microsoft.Authorization/roleAssignments/${assignment.name}`,
    name: assignment.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: `/subscriptions/${world.hub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${assignment.roleDefinitionGuid}`,
      principalId: assignment.principalId,
      principalType: assignment.principalType,
      scope: assignment.scope,
      condition: null,
      conditionVersion: null,
      createdOn: assignment.createdOn,
      updatedOn: assignment.updatedOn,
      createdBy: world.principal.objectId,
      updatedBy: world.principal.objectId,
      delegatedManagedIdentityResourceId: null,
      description: assignment.description,
    },
  };
}

function clonePermission(permission: RolePermission): RolePermission {
  return {
    actions: [...permission.actions],
    notActions: [...permission.notActions],
    dataActions: [...permission.dataActions],
    notDataActions: [...permission.notDataActions],
  };
}

function roleDefinitionDoesNotExist(guid: string, status: 404 | 400): EmulatorHttpError {
  return new EmulatorHttpError(
    status,
    'RoleDefinitionDoesNotExist',
    `The specified role definition with ID '${guid}' does not exist.`,
  );
}

function invalidScope(scope: string): EmulatorHttpError {
  return new EmulatorHttpError(400, 'InvalidScope', `The scope '${scope}' is not valid for this operation.`);
}

function methodNotAllowed(request: EmulatorRequest): EmulatorHttpError {
  return new EmulatorHttpError(
    405,
    'MethodNotAllowed',
    `The HTTP method '${request.method}' is not supported for '${request.path}'.`,
  );
}
