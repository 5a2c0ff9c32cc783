/**
 * `policy-sync preflight`: are the permissions the target needs effective at hub scope? Exit 0 yes,
 * 3 no (naming the missing actions and the roles assigned). `--wait` polls until granted or the timeout.
 */
import { createAzureAccess } from '../azure/access';
import { checkRolePropagation, waitForPropagation } from '../azure/preflight';
import { describeRolesAssigned } from '../workflows/alert-rules';
import type { PermissionReport } from '../workflows/types';
import { CONNECTION_FLAGS, connectionOverrides, defineCommand, parseDurationFlag, TARGET_FLAG } from './args';
import { loadCliAzureConfig } from './context';
import { formatDuration } from './duration';
import { ExitCode } from './errors';
import { colorsFor, note, printJson, type CommandContext } from './output';

/** @default 30 minutes: Azure documents up to 10 minutes for propagation, older documents 30. */
export const DEFAULT_PREFLIGHT_TIMEOUT_MS = 30 * 60_000;

export const preflightCommand = defineCommand(
  {
    name: 'preflight',
    summary:
      'Checks that every permission the policy target needs is effective at hub scope (Microsoft.Authorization/' +
      'permissions), and lists the roles assigned to the principal (SERVICE_PRINCIPAL_OBJECT_ID).',
    usage: 'preflight [--wait] [--timeout 30m] [--json]',
    flags: {
      wait: { type: 'boolean', description: 'check again (backing off) until granted or the timeout' },
      timeout: { type: 'string', valueName: 'DURATION', description: 'how long --wait waits (default 30m)' },
      json: { type: 'boolean', description: 'print the permission report as JSON on stdout' },
      target: TARGET_FLAG,
      'principal-id': {
        type: 'string',
        valueName: 'OID',
        description: 'object id of the principal (overrides SERVICE_PRINCIPAL_OBJECT_ID)',
      },
      hub: CONNECTION_FLAGS.hub,
    },
    notes: [
      'Exit codes: 0 every permission effective; 3 permissions missing; 1 the check failed; 2 bad usage.',
    ],
  },
  async (values, ctx) => {
    const timeoutInMs = parseDurationFlag('timeout', values.timeout, DEFAULT_PREFLIGHT_TIMEOUT_MS);
    const config = loadCliAzureConfig(ctx, {
      ...connectionOverrides(values),
      POLICY_TARGET: values.target,
      SERVICE_PRINCIPAL_OBJECT_ID: values['principal-id'],
    });
    const azure = createAzureAccess(config);
    try {
      const target = config.policy.target;
      const report = values.wait
        ? await waitForPropagation(azure.rolePropagation, {
            target,
            timeoutInMs,
            abortSignal: ctx.signal,
            onCheck: (r, elapsed) =>
              note(
                ctx,
                r.granted
                  ? `granted after ${formatDuration(elapsed)}`
                  : `not yet (${formatDuration(elapsed)}): missing ${r.missing.join(', ')}`,
              ),
          })
        : await checkRolePropagation(azure.rolePropagation, target, ctx.signal);
      printReport(ctx, report, { hub: config.hub.name, scope: config.hub.scope, target, json: values.json });
      return report.granted ? ExitCode.Ok : ExitCode.PermissionsMissing;
    } finally {
      await azure.close();
    }
  },
);

function printReport(
  ctx: CommandContext,
  report: PermissionReport,
  where: { hub: string; scope: string; target: string; json: boolean },
): void {
  if (where.json) {
    printJson(ctx, { hub: where.hub, scope: where.scope, target: where.target, ...report });
    return;
  }
  const c = colorsFor(ctx.stdout, ctx.env);
  const lines = report.granted
    ? [c.green(`✔ Every permission the ${where.target} target needs is effective on hub ${where.hub}.`)]
    : [
        c.red(`✖ Permissions missing on hub ${where.hub} for the ${where.target} target:`),
        ...report.missing.map((action) => `    ${action}`),
        `  The role '${report.grantingRole}' grants them: run \`policy-sync setup-rbac\` (or assign it at ${where.scope}).`,
        '  A role assigned minutes ago may not have propagated yet: `policy-sync preflight --wait`.',
      ];
  lines.push(
    `  Roles assigned at hub scope: ${describeRolesAssigned(
      report,
      '(none found, or SERVICE_PRINCIPAL_OBJECT_ID unset)',
    )}`,
  );
  ctx.stdout.write(`${lines.join('\n')}\n`);
}
