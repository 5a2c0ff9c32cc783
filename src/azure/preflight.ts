/**
 * Role-propagation check: are the actions the target needs effective at hub scope right now?
 * Reads Microsoft.Authorization/permissions (what ARM evaluates for the caller, following nextLink),
 * evaluates it with Azure's wildcard rules, and names the roles assigned to the principal at that scope.
 */
import { z } from 'zod';
import { FailureType } from '../domain/failure-codes';
import type { PermissionReport } from '../domain/permissions';
import type { PolicyTarget } from '../domain/policy-target';
import { classifyAzureError, isAzureRequestError, type ClassifyContext } from './errors';
import { refusalOf, sendAuthorized, type HttpClient } from './http';
import { abortableSleep } from './pacing';
import { CUSTOM_ROLE_NAME, evaluatePermissions, requiredActions, type PermissionEntry } from './permissions';
import type { TokenProvider } from './token-provider';

export const AUTHORIZATION_API_VERSION = '2022-04-01';

export interface RolePropagationCheckOptions {
  http: HttpClient;
  /** ARM-scoped tokens. */
  tokens: TokenProvider;
  armEndpoint: string;
  /** ARM scope of the hub. */
  hubScope: string;
  /** Object id of the principal, for listing its role assignments; roles are not listed without it. */
  principalObjectId?: string;
}

const permissionsPageSchema = z.object({
  value: z.array(
    z.object({
      actions: z.array(z.string()).optional(),
      notActions: z.array(z.string()).optional(),
      dataActions: z.array(z.string()).optional(),
      notDataActions: z.array(z.string()).optional(),
    }),
  ),
  nextLink: z.string().nullish(),
});

const assignmentsPageSchema = z.object({
  value: z.array(
    z.object({ properties: z.object({ roleDefinitionId: z.string(), principalId: z.string().optional() }) }),
  ),
  nextLink: z.string().nullish(),
});

const roleDefinitionSchema = z.object({ properties: z.object({ roleName: z.string() }) });

/** GETs every page of an ARM list, validating each with the schema. */
async function listAll<T extends { nextLink?: string | null | undefined }>(
  options: RolePropagationCheckOptions,
  firstUrl: string,
  schema: z.ZodType<T>,
  context: ClassifyContext,
  abortSignal?: AbortSignal,
  /** Retire a refused token (see refusalOf); off for reads a refusal does not make the token's fault. */
  retireRefusedToken = true,
): Promise<T[]> {
  const pages: T[] = [];
  let url: string | undefined = firstUrl;
  for (let guard = 0; url && guard < 100; guard++) {
    const response = await sendAuthorized(
      options.http,
      options.tokens,
      { method: 'GET', url, ...(abortSignal ? { abortSignal } : {}) },
      context,
    );
    if (response.statusCode !== 200) {
      throw retireRefusedToken
        ? refusalOf(response, context, options.tokens)
        : classifyAzureError(response, context);
    }
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) {
      throw classifyAzureError(
        { error: new Error(`unexpected answer: ${parsed.error.issues[0]?.message ?? ''}`) },
        context,
      );
    }
    pages.push(parsed.data);
    url = parsed.data.nextLink ?? undefined;
  }
  return pages;
}

/** The permission entries ARM says are effective for the caller at the hub scope. */
export async function listEffectivePermissions(
  options: RolePropagationCheckOptions,
  abortSignal?: AbortSignal,
): Promise<PermissionEntry[]> {
  const url =
    `${options.armEndpoint}${options.hubScope}/providers/Microsoft.Authorization/permissions` +
    `?api-version=${AUTHORIZATION_API_VERSION}`;
  const pages = await listAll(
    options,
    url,
    permissionsPageSchema,
    { operation: 'reading the effective permissions at hub scope' },
    abortSignal,
  );
  return pages.flatMap((page) => page.value);
}

/** Names of the roles assigned to the principal at or above the hub scope. */
export async function listAssignedRoleNames(
  options: RolePropagationCheckOptions & { principalObjectId: string },
  abortSignal?: AbortSignal,
): Promise<string[]> {
  const filter = encodeURIComponent(`atScope() and assignedTo('${options.principalObjectId}')`);
  const url =
    `${options.armEndpoint}${options.hubScope}/providers/Microsoft.Authorization/roleAssignments` +
    `?api-version=${AUTHORIZATION_API_VERSION}&$filter=${filter}`;
  const context = { operation: 'listing the role assignments at hub scope' };
  const pages = await listAll(options, url, assignmentsPageSchema, context, abortSignal, false);
  const definitionIds = [...new Set(pages.flatMap((p) => p.value.map((a) => a.properties.roleDefinitionId)))];
  const names: string[] = [];
  for (const id of definitionIds) {
    const response = await sendAuthorized(
      options.http,
      options.tokens,
      {
        method: 'GET',
        // Read at the hub scope: a custom role is visible where it is assignable.
        url:
          `${options.armEndpoint}${options.hubScope}/providers/Microsoft.Authorization/roleDefinitions/` +
          `${encodeURIComponent(id.split('/').pop() ?? id)}?api-version=${AUTHORIZATION_API_VERSION}`,
        ...(abortSignal ? { abortSignal } : {}),
      },
      { operation: 'reading a role definition' },
    );
    const parsed = response.statusCode === 200 ? roleDefinitionSchema.safeParse(response.body) : undefined;
    names.push(parsed?.success ? parsed.data.properties.roleName : (id.split('/').pop() ?? id));
  }
  return names.sort((a, b) => a.localeCompare(b));
}

/** One check: granted when nothing the target needs is missing. */
export async function checkRolePropagation(
  options: RolePropagationCheckOptions,
  target: PolicyTarget,
  abortSignal?: AbortSignal,
): Promise<PermissionReport> {
  const permissions = await listEffectivePermissions(options, abortSignal);
  const missing = evaluatePermissions(permissions, requiredActions(target));
  let rolesUnreadable = false;
  const rolesAssigned =
    options.principalObjectId === undefined
      ? []
      : await listAssignedRoleNames(
          { ...options, principalObjectId: options.principalObjectId },
          abortSignal,
        ).catch((error: unknown) => {
          // The names are a courtesy: a least-privilege principal (only the custom role) may not read role
          // assignments (Microsoft.Authorization/roleAssignments/read). That must not fail the check.
          if (!isAzureRequestError(error) || error.code !== FailureType.AuthorizationFailed) throw error;
          rolesUnreadable = true;
          return [];
        });
  return {
    granted: missing.length === 0,
    missing,
    rolesAssigned,
    ...(rolesUnreadable ? { rolesUnreadable } : {}),
    grantingRole: CUSTOM_ROLE_NAME,
  };
}

export interface WaitForPropagationOptions {
  target: PolicyTarget;
  /** Give up after this long; Azure documents up to 10 minutes, older documents 30. @default 1800000 */
  timeoutInMs?: number;
  /** @default 2000 */
  firstRecheckInMs?: number;
  /** @default 60000 */
  maxRecheckInMs?: number;
  /** Called after every check (progress on the CLI). */
  onCheck?: (report: PermissionReport, elapsedInMs: number) => void;
  abortSignal?: AbortSignal;
  /** @default Date.now */
  now?: () => number;
  /** @default abortableSleep */
  sleep?: (ms: number, abortSignal?: AbortSignal) => Promise<void>;
}

/** The wait before recheck number `n` (1-based): doubling from `first`, capped. Pure. */
export function recheckDelayInMs(n: number, firstInMs: number, maxInMs: number): number {
  return Math.min(maxInMs, firstInMs * 2 ** Math.max(0, n - 1));
}

/**
 * Polls until the permissions are granted or the timeout passes; returns the last report either way
 * (`granted: false` means it timed out).
 */
export async function waitForPropagation(
  options: RolePropagationCheckOptions,
  wait: WaitForPropagationOptions,
): Promise<PermissionReport> {
  const now = wait.now ?? Date.now;
  const sleep = wait.sleep ?? abortableSleep;
  const timeout = wait.timeoutInMs ?? 1_800_000;
  const first = wait.firstRecheckInMs ?? 2_000;
  const max = wait.maxRecheckInMs ?? 60_000;
  const started = now();
  for (let n = 1; ; n++) {
    const report = await checkRolePropagation(options, wait.target, wait.abortSignal);
    const elapsed = now() - started;
    wait.onCheck?.(report, elapsed);
    if (report.granted) return report;
    const remaining = timeout - elapsed;
    if (remaining <= 0) return report;
    await sleep(Math.min(remaining, recheckDelayInMs(n, first, max)), wait.abortSignal);
  }
}
