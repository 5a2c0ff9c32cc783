import type { PermissionKind } from './catalog';
import type { EmulatorWorld } from './world';

const settledAtOnce = { delayMs: 0, flakyWindowMs: 0, flakyRatio: 0 };

/**
 * Whether the principal may perform the operation at the scope now, with propagation applied: a grant that
 * has not appeared yet does not count, and one still settling is refused `flakyRatio` of the time.
 */
export function hasAccess(
  world: EmulatorWorld,
  principalId: string,
  scope: string,
  operation: string,
  kind: PermissionKind,
): boolean {
  const nowMs = world.now();
  const decision = world.rbac.decideAccess(
    principalId,
    scope,
    operation,
    kind,
    nowMs,
    world.faults.current.propagation,
  );
  if (decision === 'granted') return true;
  if (decision === 'settling') {
    if (!world.faults.settlingRefuses()) return true;
    world.faults.counters.propagationSettling++;
    return false;
  }
  if (world.rbac.decideAccess(principalId, scope, operation, kind, nowMs, settledAtOnce) === 'granted') {
    world.faults.counters.propagationPending++;
  }
  return false;
}
