/**
 * `policy-sync rerun`: queues devices again in the hub's running sync (signal `rerun`); when none
 * runs, starts one with those devices through signal-with-start, so a rerun racing a starting sync
 * lands in one workflow either way.
 */
import { CONNECTION_FLAGS, connectionOverrides, defineCommand, parseList } from './args';
import { loadCliConfig, withClient } from './context';
import { ExitCode, UsageError } from './errors';
import { checkDeviceIds } from './inventory-check';
import { colorsFor, note, printJson } from './output';
import {
  findLatestSync,
  findRunningSync,
  manualWorkflowId,
  syncInput,
  syncOutcome,
  syncSearchAttributes,
  syncStaticDetails,
} from './sync-runs';
import { policySyncWorkflow } from '../workflows';
import { rerunSignal } from '../workflows/messages';
import type { RerunRequest } from '../workflows/types';
import { listedDevices } from '../workflows/failure-ledger';

export const rerunCommand = defineCommand(
  {
    name: 'rerun',
    summary:
      "Signals `rerun` to the hub's running sync. When none runs, starts one (signal-with-start) with those " +
      'devices; with --failed-only, the devices that failed in the last run.',
    usage: 'rerun [--failed-only] [--devices a,b] [--json]',
    flags: {
      'failed-only': {
        type: 'boolean',
        description: 'only devices that failed (in this run, or the last one)',
      },
      devices: { type: 'string', valueName: 'IDS', description: 'only these device ids (comma-separated)' },
      json: { type: 'boolean', description: 'print JSON on stdout' },
      ...CONNECTION_FLAGS,
    },
    notes: ['Exit codes: 0 signalled or started (or nothing failed to rerun); 1 failed; 2 bad usage.'],
  },
  async (values, ctx) => {
    const deviceIds = parseList('devices', values.devices);
    const failedOnly = values['failed-only'];
    const config = loadCliConfig(ctx, connectionOverrides(values));
    const hub = config.hub.name;
    const colors = colorsFor(ctx.stdout, ctx.env);
    return withClient(config, async (client) => {
      const request: RerunRequest = {};
      if (failedOnly) request.failedOnly = true;
      if (deviceIds) request.deviceIds = deviceIds;

      const running = await findRunningSync(client, hub);
      if (running) {
        await client.workflow.getHandle(running.workflowId).signal(rerunSignal, request);
        if (values.json) printJson(ctx, { result: 'signalled', workflowId: running.workflowId, request });
        else
          ctx.stdout.write(
            `Signalled rerun ${describe(request)} to running sync ${colors.bold(running.workflowId)}\n`,
          );
        return ExitCode.Ok;
      }

      // None running: work out the devices, then signal-with-start a manual sync of just those.
      let devices = deviceIds;
      let from: string | undefined;
      if (failedOnly) {
        const last = await findLatestSync(client, hub);
        const outcome = last ? await syncOutcome(client, last.workflowId) : undefined;
        const listed = outcome?.status === 'COMPLETED' ? outcome.summary.failed : [];
        const failed = listedDevices(listed).map((f) => f.deviceId);
        const unlisted = listed.length - failed.length;
        if (unlisted > 0)
          ctx.stderr.write(
            `${last?.workflowId} failed more devices than its summary lists; rerunning the listed ones ` +
              '(to reach every device, run the whole inventory: policy-sync run)\n',
          );
        from = last?.workflowId;
        devices = deviceIds ? failed.filter((id) => deviceIds.includes(id)) : failed;
        if (devices.length === 0) {
          const why = !last
            ? `no earlier sync of hub ${hub}`
            : outcome?.status === 'COMPLETED'
              ? `no failed devices${deviceIds ? ' among those given' : ''} in ${last.workflowId}`
              : `${last.workflowId} ${outcome?.status.toLowerCase()} before writing devices; start a full sync with: policy-sync run`;
          if (values.json) printJson(ctx, { result: 'none', reason: why, from: from ?? null });
          else ctx.stdout.write(`Nothing to rerun: ${why}\n`);
          return ExitCode.Ok;
        }
      }
      // A sync started with an id the inventory lacks fails as a whole: refuse it before starting, where the
      // inventory can be loaded here. (A running sync reports unknown ids itself, in its summary.)
      if (deviceIds && !failedOnly) {
        const check = await checkDeviceIds(ctx, connectionOverrides(values), deviceIds);
        if (check.checked && check.unknown.length > 0)
          throw new UsageError(
            `--devices: ${check.unknown.map((id) => `'${id}'`).join(', ')} ${check.unknown.length === 1 ? 'is' : 'are'} ` +
              'not in the inventory; nothing was started (check the ids with: policy-sync plan --devices …)',
            'rerun',
          );
        if (!check.checked)
          note(
            ctx,
            `policy-sync: cannot check --devices against the inventory: ${check.reason}; a sync started with an id it lacks fails`,
          );
      }
      const workflowId = manualWorkflowId(hub);
      const startRequest: RerunRequest = devices ? { deviceIds: devices } : {};
      await client.workflow.signalWithStart(policySyncWorkflow, {
        workflowId,
        taskQueue: config.temporal.taskQueue,
        args: [syncInput(config, { deviceIds: devices })],
        signal: rerunSignal,
        signalArgs: [startRequest],
        typedSearchAttributes: syncSearchAttributes(hub),
        staticSummary: `Policy sync of hub ${hub} (rerun)`,
        staticDetails: syncStaticDetails(hub, config.policy.target, '`policy-sync rerun`'),
      });
      if (values.json) {
        printJson(ctx, { result: 'started', workflowId, deviceIds: devices ?? null, from: from ?? null });
      } else {
        const what = devices ? `${devices.length} device${devices.length === 1 ? '' : 's'}` : 'every device';
        ctx.stdout.write(
          `No sync was running: started ${colors.bold(workflowId)} for ${what}${from ? ` (failed in ${from})` : ''}\n`,
        );
      }
      return ExitCode.Ok;
    });
  },
);

function describe(request: RerunRequest): string {
  const parts: string[] = [];
  if (request.failedOnly) parts.push('failed devices');
  if (request.deviceIds) parts.push(`devices ${request.deviceIds.join(',')}`);
  return parts.length > 0 ? `(${parts.join(', ')})` : '(all devices)';
}
