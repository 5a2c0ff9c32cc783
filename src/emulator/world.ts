import type { OperationCatalog } from './catalog';
import type { DeviceAgents } from './device-agents';
import type { DeviceRegistry } from './devices';
import type { FaultInjector } from './fault-injector';
import type { EmulatorHub, EmulatorPrincipal } from './identities';
import type { RequestJournal } from './journal';
import { builtInRoles, startAssignmentName, startRoleGuid, type RbacStore } from './rbac';
import type { TokenStore } from './tokens';

/** Everything the surfaces (Entra ID, ARM, IoT Hub, introspection) read and change. */
export interface EmulatorWorld {
  readonly url: string;
  readonly principal: EmulatorPrincipal;
  readonly hub: EmulatorHub;
  readonly catalog: OperationCatalog;
  readonly tokens: TokenStore;
  readonly rbac: RbacStore;
  readonly devices: DeviceRegistry;
  /** The simulated devices that answer desired writes. */
  readonly agents: DeviceAgents;
  readonly faults: FaultInjector;
  readonly journal: RequestJournal;
  readonly tokenLifetimeSeconds: number;
  readonly grantOnStart: boolean;
  now(): number;
}

/**
 * RBAC as at start: the built-in roles and, unless turned off, the principal's grant at hub scope, created
 * now, so its propagation clock starts now.
 */
export function seedRoleAssignments(world: EmulatorWorld): void {
  const { rbac } = world;
  rbac.definitions.clear();
  rbac.assignments.clear();
  for (const role of builtInRoles(world.catalog.hasSecurityPolicies)) rbac.putDefinition(role);
  if (!world.grantOnStart) return;
  const nowMs = world.now();
  const nowIso = new Date(nowMs).toISOString();
  rbac.putAssignment({
    name: startAssignmentName,
    scope: world.hub.scope,
    roleDefinitionGuid: startRoleGuid,
    principalId: world.principal.objectId,
    principalType: 'ServicePrincipal',
    description: 'Granted by the emulator at start',
    createdAtMs: nowMs,
    createdOn: nowIso,
    updatedOn: nowIso,
  });
}
