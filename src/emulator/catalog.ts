import { z } from 'zod';
import operationsJson from './data/microsoft-devices-operations.json';

/**
 * Which Microsoft.Devices operations exist. `seed` is the seed environment's (the published list plus
 * securityPolicies read/write/delete); `public` is strict public Azure, where securityPolicies does not exist.
 */
export type CatalogName = 'seed' | 'public';

export interface OperationCatalog {
  readonly name: CatalogName;
  readonly actions: readonly string[];
  readonly dataActions: readonly string[];
  /** Whether the securityPolicies resource type exists at all. */
  readonly hasSecurityPolicies: boolean;
}

export type PermissionKind = 'action' | 'dataAction';

const providerNamespace = 'microsoft.devices';

const operationsFileSchema = z.object({
  actions: z.array(z.string()),
  dataActions: z.array(z.string()),
  seedEnvironmentExtraActions: z.array(z.string()),
});

export function loadOperationCatalog(name: CatalogName): OperationCatalog {
  const operations = operationsFileSchema.parse(operationsJson);
  return {
    name,
    actions:
      name === 'seed'
        ? [...operations.actions, ...operations.seedEnvironmentExtraActions]
        : operations.actions,
    dataActions: operations.dataActions,
    hasSecurityPolicies: name === 'seed',
  };
}

/** Azure's permission matching: case-insensitive, `*` stands for any run of characters (slashes too). */
export function operationMatches(pattern: string, operation: string): boolean {
  return wildcardPattern(pattern).test(operation);
}

const compiledPatterns = new Map<string, RegExp>();

function wildcardPattern(pattern: string): RegExp {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*');
    compiled = new RegExp(`^${source}$`, 'i');
    compiledPatterns.set(pattern, compiled);
  }
  return compiled;
}

/**
 * Whether a role definition may name this action or data action. Operations of Microsoft.Devices must match
 * the catalog (a wildcard must match at least one operation); any well-formed operation of another provider
 * is accepted, as is the bare `*` among actions.
 */
export function isPublishedOperation(
  catalog: OperationCatalog,
  kind: PermissionKind,
  pattern: string,
): boolean {
  if (pattern === '*') return kind === 'action';
  const namespace = pattern.split('/')[0] ?? '';
  if (!/^[A-Za-z0-9.*]+$/.test(namespace) || !pattern.includes('/')) return false;
  // Other providers are not modelled (their catalogs are not here), so their operations pass.
  if (namespace.toLowerCase() !== providerNamespace) return true;
  const published = kind === 'action' ? catalog.actions : catalog.dataActions;
  return published.some((operation) => operationMatches(pattern, operation));
}
