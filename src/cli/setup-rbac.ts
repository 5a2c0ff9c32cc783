/**
 * `policy-sync setup-rbac`: creates or updates the custom role "IoT Security Policy Manager" with exactly
 * what the target needs, assigns it to the principal at hub scope (idempotent), then waits for it to
 * become effective.
 */
import { createAzureAccess } from '../azure/access';
import { setupRbac } from '../azure/rbac';
import { CONNECTION_FLAGS, connectionOverrides, defineCommand, parseDurationFlag, TARGET_FLAG } from './args';
import { loadCliAzureConfig } from './context';
import { formatDuration } from './duration';
import { ExitCode, UsageError } from './errors';
import { colorsFor, note, printJson } from './output';
import { DEFAULT_PREFLIGHT_TIMEOUT_MS } from './preflight';

export const setupRbacCommand = defineCommand(
  {
    name: 'setup-rbac',
    summary:
      "Creates or updates the custom role 'IoT Security Policy Manager' (exactly the target's actions, assignable " +
      'at the hub only) and assigns it to the service principal at hub scope; then waits until it is effective. ' +
      'Running it twice changes nothing.',
    usage: 'setup-rbac [--principal-id OID] [--no-wait] [--timeout 30m] [--json]',
    flags: {
      'principal-id': {
        type: 'string',
        valueName: 'OID',
        description: 'object id of the service principal (overrides SERVICE_PRINCIPAL_OBJECT_ID)',
      },
      'no-wait': { type: 'boolean', description: 'do not wait for the assignment to become effective' },
      timeout: {
        type: 'string',
        valueName: 'DURATION',
        description: 'how long to wait for propagation (default 30m)',
      },
      json: { type: 'boolean', description: 'print the result as JSON on stdout' },
      target: TARGET_FLAG,
      hub: CONNECTION_FLAGS.hub,
    },
    notes: [
      'The identity running this needs Microsoft.Authorization/roleDefinitions/write and roleAssignments/write ' +
        '(e.g. Owner or User Access Administrator) at the hub; the worker’s principal does not.',
      'Exit codes: 0 done and effective; 3 assigned but not effective within the timeout; 1 failed; 2 bad usage.',
    ],
  },
  async (values, ctx) => {
    const timeoutInMs = parseDurationFlag('timeout', values.timeout, DEFAULT_PREFLIGHT_TIMEOUT_MS);
    const config = loadCliAzureConfig(ctx, {
      ...connectionOverrides(values),
      POLICY_TARGET: values.target,
      SERVICE_PRINCIPAL_OBJECT_ID: values['principal-id'],
    });
    const principalObjectId = config.azure.principalObjectId;
    if (!principalObjectId) {
      throw new UsageError(
        'setup-rbac needs the principal’s object id: --principal-id OID or SERVICE_PRINCIPAL_OBJECT_ID',
      );
    }
    const azure = createAzureAccess(config);
    try {
      const result = await setupRbac({
        credential: azure.armTokens.asTokenCredential(),
        armEndpoint: config.azure.armEndpoint,
        subscriptionId: config.azure.subscriptionId,
        hubScope: config.hub.scope,
        principalObjectId,
        target: config.policy.target,
        abortSignal: ctx.signal,
        onProgress: (line) => note(ctx, line),
        ...(values['no-wait']
          ? {}
          : {
              propagation: {
                check: azure.rolePropagation,
                wait: {
                  timeoutInMs,
                  onCheck: (r, elapsed) =>
                    note(
                      ctx,
                      r.granted
                        ? `effective after ${formatDuration(elapsed)}`
                        : `not effective yet (${formatDuration(elapsed)})`,
                    ),
                },
              },
            }),
      });
      const effective = result.permissions?.granted;
      if (values.json) {
        printJson(ctx, { hub: config.hub.name, target: config.policy.target, principalObjectId, ...result });
      } else {
        const c = colorsFor(ctx.stdout, ctx.env);
        ctx.stdout.write(
          `Role '${result.roleName}': ${result.role}; assignment to ${principalObjectId} at hub ${config.hub.name}: ${result.assignment}\n` +
            (effective === undefined
              ? 'Not waiting for propagation: check with `policy-sync preflight --wait`.\n'
              : effective
                ? `${c.green('✔ effective at hub scope')}\n`
                : `${c.red('✖ not effective yet')}: missing ${result.permissions?.missing.join(', ')}\n`),
        );
      }
      return effective === false ? ExitCode.PermissionsMissing : ExitCode.Ok;
    } finally {
      await azure.close();
    }
  },
);
