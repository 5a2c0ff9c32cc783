/** Watching a sync with the live view, and reporting how it ended; shared by run, status and demo. */
import type { Client } from '@temporalio/client';
import { ExitCode } from './errors';
import { colorsFor, note, printJson, ProgressView, renderSummary, type CommandContext } from './output';
import { watchSync, type SyncOutcome } from './sync-runs';

/** Watches until the sync closes, with a bar (terminal) or periodic lines on stderr. */
export async function watchWithProgress(
  client: Client,
  workflowId: string,
  ctx: CommandContext,
  options: { lineEveryInMs?: number } = {},
): Promise<SyncOutcome> {
  const view = new ProgressView(ctx, options);
  try {
    return await watchSync(client, workflowId, { onMetrics: (m) => view.update(m), signal: ctx.signal });
  } finally {
    view.stop();
  }
}

/** Prints the outcome (summary or failure); exit 1 when devices failed or the sync did not complete. */
export function reportOutcome(
  ctx: CommandContext,
  workflowId: string,
  outcome: SyncOutcome,
  json: boolean,
): number {
  if (outcome.status === 'COMPLETED') {
    if (json) printJson(ctx, outcome.summary);
    else ctx.stdout.write(renderSummary(outcome.summary, colorsFor(ctx.stdout, ctx.env)));
    return outcomeExitCode(outcome);
  }
  if (json) {
    printJson(ctx, {
      workflowId,
      status: outcome.status,
      failure: { type: outcome.type ?? null, message: outcome.message },
    });
  } else {
    const colors = colorsFor(ctx.stdout, ctx.env);
    ctx.stdout.write(
      `${colors.red(`✖ ${workflowId} ${outcome.status.toLowerCase()}`)}${outcome.type ? ` (${outcome.type})` : ''}: ${outcome.message}\n`,
    );
    if (outcome.type === 'PermissionsNotPropagated') {
      note(
        ctx,
        'Hint: run `policy-sync preflight` to see what is missing, and `policy-sync setup-rbac` to grant it.',
      );
    }
  }
  return outcomeExitCode(outcome);
}

/** 0 every device in sync; 1 devices failed or the sync did not complete; 3 its permissions never became effective. */
export function outcomeExitCode(outcome: SyncOutcome): number {
  if (outcome.status === 'COMPLETED')
    return outcome.summary.failed.length > 0 ? ExitCode.Failed : ExitCode.Ok;
  return outcome.type === 'PermissionsNotPropagated' ? ExitCode.PermissionsMissing : ExitCode.Failed;
}
