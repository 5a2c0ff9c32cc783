/**
 * `policy-sync alerts`: the alerts of the hub's running sync, else of its last one (the `alerts` query, or the
 * run summary of a closed sync no worker answers for); `policy-sync alerts ack ID` acknowledges one (signal
 * `acknowledgeAlert`) in a running sync.
 */
import type { Client } from '@temporalio/client';
import { CONNECTION_FLAGS, connectionOverrides, defineCommand } from './args';
import { loadCliConfig, withClient } from './context';
import { CommandFailedError, ExitCode, UsageError } from './errors';
import { colorsFor, printJson, type CommandContext } from './output';
import { resolveSync } from './status';
import { syncOutcome, type SyncRef } from './sync-runs';
import { acknowledgeAlertSignal, alertsQuery } from '../workflows/messages';
import { alertLine } from '../workflows/run-report';
import type { AlertRecord } from '../workflows/types';

/** How long an acknowledgement may take to show in the `alerts` query before the command says so. */
const ACK_CONFIRM_TIMEOUT_MS = 10_000;

export const alertsCommand = defineCommand(
  {
    name: 'alerts',
    summary:
      "Lists the alerts of the hub's running sync, else of its last one; `alerts ack ID` acknowledges one " +
      'in a running sync (signal acknowledgeAlert).',
    usage: 'alerts [ack ALERT_ID] [--workflow-id ID] [--json]',
    flags: {
      'workflow-id': {
        type: 'string',
        valueName: 'ID',
        description: 'this sync instead of the hub’s latest',
      },
      json: { type: 'boolean', description: 'print JSON on stdout' },
      ...CONNECTION_FLAGS,
    },
    positionals: { max: 2, names: "'ack ALERT_ID'" },
    notes: [
      'Exit codes: 0 listed (whether or not there are alerts) or acknowledged; 1 no sync found, the sync is not ' +
        'running (ack), or no worker answered; 2 bad usage or an alert id the sync does not have.',
    ],
  },
  async (values, ctx, positionals) => {
    const [action, alertId, ...rest] = positionals;
    if (action !== undefined && action !== 'ack')
      throw new UsageError(
        `unknown alerts action '${action}': use 'alerts' or 'alerts ack ALERT_ID'`,
        'alerts',
      );
    if (action === 'ack' && (alertId === undefined || alertId.trim() === ''))
      throw new UsageError("'alerts ack' needs the alert id (policy-sync alerts lists them)", 'alerts');
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`, 'alerts');
    const config = loadCliConfig(ctx, connectionOverrides(values));
    return withClient(config, async (client) => {
      const ref = await resolveSync(client, config.hub.name, values['workflow-id']);
      if (action === 'ack') return acknowledge(client, ref, alertId ?? '', ctx, values.json);
      const alerts = await alertsOf(client, ref);
      if (values.json) printJson(ctx, { workflowId: ref.workflowId, status: ref.status, alerts });
      else {
        const colors = colorsFor(ctx.stdout, ctx.env);
        ctx.stdout.write(`${colors.bold(ref.workflowId)} — ${ref.status.toLowerCase()}\n`);
        if (alerts.length === 0) ctx.stdout.write('No alerts.\n');
        for (const alert of alerts)
          ctx.stdout.write(`${(alert.acknowledged ? colors.dim : colors.yellow)(`⚠ ${alertLine(alert)}`)}\n`);
        if (alerts.some((alert) => !alert.acknowledged) && ref.status === 'RUNNING')
          ctx.stdout.write('Acknowledge one with: policy-sync alerts ack ALERT_ID\n');
      }
      return ExitCode.Ok;
    });
  },
);

async function queryAlerts(client: Client, workflowId: string, timeoutInMs: number) {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await client.connection.withDeadline(Date.now() + timeoutInMs, () => handle.query(alertsQuery));
  } catch {
    return undefined;
  }
}

/** The alerts query; for a closed sync with no worker to answer it, its run summary's alerts. */
async function alertsOf(client: Client, ref: SyncRef): Promise<AlertRecord[]> {
  const running = ref.status === 'RUNNING';
  const answered = await queryAlerts(client, ref.workflowId, running ? 10_000 : 3_000);
  if (answered) return answered;
  if (!running) {
    const outcome = await syncOutcome(client, ref.workflowId);
    if (outcome.status === 'COMPLETED') return outcome.summary.alerts;
  }
  throw new CommandFailedError(
    `no worker answered the alerts query of ${ref.workflowId}: is a worker polling its task queue?`,
  );
}

async function acknowledge(
  client: Client,
  ref: SyncRef,
  alertId: string,
  ctx: CommandContext,
  json: boolean,
): Promise<number> {
  if (ref.status !== 'RUNNING')
    throw new CommandFailedError(
      `${ref.workflowId} is ${ref.status.toLowerCase()}: only a running sync takes acknowledgements`,
    );
  const alerts = await alertsOf(client, ref);
  const alert = alerts.find((a) => a.id === alertId);
  if (!alert)
    throw new UsageError(
      `${ref.workflowId} has no alert '${alertId}'` +
        (alerts.length > 0 ? `; its alerts: ${alerts.map((a) => a.id).join(', ')}` : '; it has no alerts'),
      'alerts',
    );
  if (!alert.acknowledged)
    await client.workflow.getHandle(ref.workflowId).signal(acknowledgeAlertSignal, { id: alertId });
  // The signal is applied at the sync's next workflow task: wait until the query shows it.
  const deadline = Date.now() + ACK_CONFIRM_TIMEOUT_MS;
  let confirmed = alert.acknowledged;
  while (!confirmed && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    confirmed =
      (await queryAlerts(client, ref.workflowId, 3_000))?.find((a) => a.id === alertId)?.acknowledged ??
      false;
  }
  if (json) printJson(ctx, { workflowId: ref.workflowId, alertId, acknowledged: confirmed });
  else
    ctx.stdout.write(
      confirmed
        ? `Alert ${alertId} (${alert.kind}) of ${ref.workflowId} acknowledged\n`
        : `Signalled acknowledgeAlert ${alertId} to ${ref.workflowId}; not yet shown by its alerts query\n`,
    );
  return confirmed ? ExitCode.Ok : ExitCode.Failed;
}
