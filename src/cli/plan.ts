/**
 * `policy-sync plan`: what a sync would do, device by device, without writing anything. The fleet is
 * observed in bulk (ARM's list of securityPolicies, or IoT Hub's device query): a steady fleet costs the
 * list or query pages and a token, nothing per device. Where the hub offers no bulk read, each device is
 * read on its own, and the command says so once.
 */
import { createAzureAccess, type AzureAccess } from '../azure/access';
import { observeArmPolicies, observeArmPolicy } from '../azure/arm-observer';
import {
  comparableObservation,
  isObservationUnsupportedError,
  type ObservedDevice,
} from '../azure/observation';
import { createQueryPacer, observeTwinPolicies, observeTwinPolicy } from '../azure/twin-observer';
import { armObserverOptions, inventorySourceOptions, twinObserverOptions } from '../activities/deps';
import type { WorkerConfig } from '../config';
import { hasPendingChanges, planFleet, type FleetPlan, type PlanAssignment } from '../domain/policy-plan';
import { isInventoryError } from '../inventory/errors';
import { loadInventory } from '../inventory/inventory';
import { CONNECTION_FLAGS, defineCommand, parseList, TARGET_FLAG } from './args';
import { collectUsageProblem, loadCliWorkerConfig } from './context';
import { CommandFailedError, ExitCode, UsageError } from './errors';
import { colorsFor, note, printJson, type CommandContext } from './output';

/** `--detailed-exitcode`: the plan would write (create or update) devices. */
export const CHANGES_PENDING_EXIT_CODE = 4;

/** Per-device reads of the fallback in flight at once. */
const FALLBACK_CONCURRENCY = 8;

export const planCommand = defineCommand(
  {
    name: 'plan',
    summary:
      'Observes the fleet in bulk (the arm target: ARM lists the hub securityPolicies; twin: the IoT Hub device ' +
      'query) and prints per device what a sync would do: create, update, unchanged, not in hub, or orphan (a hub ' +
      'device holding a policy the inventory does not name: reported, never deleted). Writes nothing.',
    usage: 'plan [--devices a,b] [--json] [--detailed-exitcode]',
    flags: {
      devices: {
        type: 'string',
        valueName: 'a,b',
        description: 'plan only these inventory devices (comma-separated); no orphans are reported then',
      },
      json: {
        type: 'boolean',
        description:
          'print {hub, target, observedAt, counts, devices} on stdout (devices: all but unchanged)',
      },
      'detailed-exitcode': {
        type: 'boolean',
        description: `exit ${CHANGES_PENDING_EXIT_CODE} when devices would be created or updated, 0 when none`,
      },
      target: TARGET_FLAG,
      hub: CONNECTION_FLAGS.hub,
    },
    notes: [
      `Exit codes: 0 planned (with --detailed-exitcode: nothing to write); ${CHANGES_PENDING_EXIT_CODE} with ` +
        '--detailed-exitcode, changes pending; 1 the inventory or the observation failed; 2 bad usage.',
      'The arm list holds only devices with a policy: an inventory device it lacks is planned "create" (the list ' +
        'cannot tell a device without a policy from a device the hub does not have).',
    ],
  },
  async (values, ctx) => {
    const problems: string[] = [];
    const selection = collectUsageProblem(() => parseList('devices', values.devices), problems);
    const config = loadCliWorkerConfig(
      ctx,
      { IOT_HUB_NAME: values.hub, POLICY_TARGET: values.target },
      problems,
    );
    const azure = createAzureAccess(config);
    try {
      const assignments = await loadAssignments(config, azure, selection, ctx);
      const observedAt = new Date().toISOString();
      const plan = await observeAndPlan(config, azure, assignments, selection !== undefined, ctx);
      if (values.json) {
        printJson(ctx, {
          hub: config.hub.name,
          target: config.policy.target,
          observedAt,
          counts: plan.counts,
          devices: plan.entries
            .filter((entry) => entry.action !== 'unchanged')
            .map((entry) => ({
              deviceId: entry.deviceId,
              action: entry.action,
              policy: entry.policy ?? null,
              ...(entry.reason === undefined ? {} : { reason: entry.reason }),
            })),
        });
      } else {
        printPlan(ctx, plan, { hub: config.hub.name, target: config.policy.target, observedAt });
      }
      return values['detailed-exitcode'] && hasPendingChanges(plan.counts)
        ? CHANGES_PENDING_EXIT_CODE
        : ExitCode.Ok;
    } finally {
      await azure.close();
    }
  },
);

/** The inventory's devices (narrowed to `--devices`) with their desired documents. */
async function loadAssignments(
  config: WorkerConfig,
  azure: AzureAccess,
  selection: string[] | undefined,
  ctx: CommandContext,
): Promise<PlanAssignment[]> {
  let inventory;
  try {
    inventory = await loadInventory(inventorySourceOptions(config, azure), ctx.signal);
  } catch (error) {
    if (isInventoryError(error))
      throw new CommandFailedError(`the inventory cannot be loaded: ${error.message}`);
    throw error;
  }
  for (const rejection of inventory.rejected) {
    note(ctx, `policy-sync: not planned: ${rejection.source} row ${rejection.row}: ${rejection.reason}`);
  }
  let devices = inventory.devices;
  if (selection !== undefined) {
    const known = new Set(devices.map((device) => device.deviceId));
    const unknown = selection.filter((deviceId) => !known.has(deviceId));
    for (const deviceId of unknown)
      note(ctx, `policy-sync: --devices: '${deviceId}' is not in the inventory`);
    if (unknown.length === selection.length) {
      throw new UsageError(`--devices: none of the ${selection.length} device ids given is in the inventory`);
    }
    const wanted = new Set(selection);
    devices = devices.filter((device) => wanted.has(device.deviceId));
  }
  return devices.map(({ deviceId, policy }) => {
    const document = inventory.policies.get(policy);
    // The inventory only accepts rows whose policy it has.
    if (!document) throw new Error(`policy '${policy}' of device '${deviceId}' vanished from the inventory`);
    return { deviceId, policy, document };
  });
}

async function observeAndPlan(
  config: WorkerConfig,
  azure: AzureAccess,
  assignments: PlanAssignment[],
  selected: boolean,
  ctx: CommandContext,
): Promise<FleetPlan> {
  const target = config.policy.target;
  const arm = armObserverOptions(config, azure, ctx.signal);
  const twin = twinObserverOptions(config, azure, createQueryPacer(config.hub.queriesPerMinute), ctx.signal);
  const observations: ObservedDevice[] = [];
  try {
    const bulk = target === 'arm' ? observeArmPolicies(arm) : observeTwinPolicies(twin);
    for await (const device of bulk) observations.push(device);
  } catch (error) {
    if (!isObservationUnsupportedError(error)) throw error;
    note(
      ctx,
      `policy-sync: ${error.message} Reading ${assignments.length} device${assignments.length === 1 ? '' : 's'} one by one.`,
    );
    const notInHub: string[] = [];
    const queue = [...assignments];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const seen =
          target === 'arm'
            ? await observeArmPolicy(arm, next.deviceId)
            : await observeTwinPolicy(twin, next.deviceId);
        if (seen === 'notInHub') notInHub.push(next.deviceId);
        else observations.push(seen);
      }
    };
    await Promise.all(Array.from({ length: FALLBACK_CONCURRENCY }, worker));
    // Only the inventory's devices were read: orphans cannot be known.
    return planFleet(...comparable(assignments, observations), {
      listsEveryDevice: false,
      notInHub,
      reportOrphans: false,
    });
  }
  return planFleet(...comparable(assignments, observations), {
    listsEveryDevice: target === 'twin',
    reportOrphans: !selected,
  });
}

/** Both sides in one form per device (an ARM resource in the desired document's form): like with like. */
function comparable(
  assignments: PlanAssignment[],
  observations: ObservedDevice[],
): [PlanAssignment[], ObservedDevice[]] {
  const observedById = new Map(observations.map((o) => [o.deviceId, o]));
  const pairs = new Map(
    assignments.flatMap((a) => {
      const seen = observedById.get(a.deviceId);
      return seen ? [[a.deviceId, comparableObservation(seen, a.document)] as const] : [];
    }),
  );
  return [
    assignments.map((a) => {
      const pair = pairs.get(a.deviceId);
      return pair ? { ...a, document: pair.desired } : a;
    }),
    observations.map((o) => {
      const pair = pairs.get(o.deviceId);
      return pair ? { ...o, document: pair.observed } : o;
    }),
  ];
}

const ACTION_LABELS = {
  create: 'create',
  update: 'update',
  unchanged: 'unchanged',
  notInHub: 'not in hub',
  orphan: 'orphan',
} as const;

function printPlan(
  ctx: CommandContext,
  plan: FleetPlan,
  where: { hub: string; target: string; observedAt: string },
): void {
  const c = colorsFor(ctx.stdout, ctx.env);
  const { counts } = plan;
  const lines = [
    `Plan for hub ${where.hub} (target ${where.target}), observed ${where.observedAt}:`,
    `  ${counts.create} to create, ${counts.update} to update, ${counts.unchanged} unchanged, ` +
      `${counts.notInHub} not in hub, ${counts.orphan} orphan${counts.orphan === 1 ? '' : 's'}`,
  ];
  const shown = plan.entries.filter((entry) => entry.action !== 'unchanged');
  const width = Math.max(0, ...shown.map((entry) => entry.deviceId.length));
  for (const entry of shown) {
    const label = ACTION_LABELS[entry.action].padEnd(10);
    const colored = entry.action === 'create' || entry.action === 'update' ? c.yellow(label) : c.dim(label);
    lines.push(
      `  ${colored} ${entry.deviceId.padEnd(width)}  ${entry.policy ?? '-'}${entry.reason ? `  (${entry.reason})` : ''}`,
    );
  }
  lines.push(
    hasPendingChanges(counts)
      ? c.yellow(`${counts.create + counts.update} device(s) would be written by a sync.`)
      : c.green('✔ Nothing to write: every device that can be synced holds its policy.'),
  );
  ctx.stdout.write(`${lines.join('\n')}\n`);
}
