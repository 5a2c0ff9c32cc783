/**
 * `policy-sync pause` and `resume`: hold and release the start of new batches in the hub's running syncs.
 * A manual run and a scheduled one may run side by side; both write the hub's devices, so a pause that left
 * one writing would not be a pause. Every running sync of the hub is signalled, and each is named.
 */
import { CONNECTION_FLAGS, connectionOverrides, defineCommand, type Command } from './args';
import { loadCliConfig, withClient } from './context';
import { CommandFailedError, ExitCode } from './errors';
import { colorsFor, printJson } from './output';
import { findRunningSyncs } from './sync-runs';
import { pauseSignal, resumeSignal } from '../workflows/messages';

function signalCommand(name: 'pause' | 'resume', summary: string): Command {
  return defineCommand(
    {
      name,
      summary,
      usage: `${name} [--workflow-id ID] [--json]`,
      flags: {
        'workflow-id': {
          type: 'string',
          valueName: 'ID',
          description: 'only this sync instead of every running sync of the hub',
        },
        json: { type: 'boolean', description: 'print JSON on stdout' },
        ...CONNECTION_FLAGS,
      },
      notes: [
        'Without --workflow-id, every running sync of the hub (manual and scheduled) is signalled and named.',
        'Exit codes: 0 signalled; 1 no running sync (or a signal failed); 2 bad usage or configuration.',
      ],
    },
    async (values, ctx) => {
      const config = loadCliConfig(ctx, connectionOverrides(values));
      return withClient(config, async (client) => {
        const workflowIds = values['workflow-id']
          ? [values['workflow-id']]
          : (await findRunningSyncs(client, config.hub.name)).map((ref) => ref.workflowId);
        if (workflowIds.length === 0)
          throw new CommandFailedError(`no sync of hub ${config.hub.name} is running: nothing to ${name}`);
        const signalled: string[] = [];
        const problems: string[] = [];
        for (const workflowId of workflowIds) {
          try {
            await client.workflow.getHandle(workflowId).signal(name === 'pause' ? pauseSignal : resumeSignal);
            signalled.push(workflowId);
          } catch (error) {
            // One sync ending meanwhile must not leave the others unsignalled.
            problems.push(
              (error as Error).name === 'WorkflowNotFoundError'
                ? `${workflowId} is not running: nothing to ${name}`
                : `${workflowId}: ${(error as Error).message}`,
            );
          }
        }
        if (values.json) {
          printJson(ctx, {
            result: name,
            workflowId: signalled[0] ?? null,
            workflowIds: signalled,
            ...(problems.length > 0 ? { problems } : {}),
          });
        } else {
          const bold = colorsFor(ctx.stdout, ctx.env).bold;
          for (const workflowId of signalled)
            ctx.stdout.write(
              `${name === 'pause' ? 'Paused' : 'Resumed'} ${bold(workflowId)}` +
                `${name === 'pause' ? ' (batches already running finish; no new batch starts until resume)' : ''}\n`,
            );
        }
        if (problems.length > 0) {
          if (signalled.length === 0) throw new CommandFailedError(problems.join('; '));
          for (const problem of problems) ctx.stderr.write(`${problem}\n`);
          return ExitCode.Failed;
        }
        return ExitCode.Ok;
      });
    },
  );
}

export const pauseCommand = signalCommand(
  'pause',
  'Pauses every running sync of the hub: no new batch starts until `resume`.',
);
export const resumeCommand = signalCommand('resume', 'Resumes the paused syncs of the hub.');
