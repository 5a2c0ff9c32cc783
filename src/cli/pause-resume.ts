/** `policy-sync pause` and `resume`: hold and release the start of new batches in the running sync. */
import { CONNECTION_FLAGS, connectionOverrides, defineCommand, type Command } from './args';
import { loadCliConfig, withClient } from './context';
import { CommandFailedError, ExitCode } from './errors';
import { colorsFor, printJson } from './output';
import { findRunningSync } from './sync-runs';
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
          description: 'this sync instead of the hub’s running one',
        },
        json: { type: 'boolean', description: 'print JSON on stdout' },
        ...CONNECTION_FLAGS,
      },
      notes: ['Exit codes: 0 signalled; 1 no running sync; 2 bad usage or configuration.'],
    },
    async (values, ctx) => {
      const config = loadCliConfig(ctx, connectionOverrides(values));
      return withClient(config, async (client) => {
        const workflowId =
          values['workflow-id'] ?? (await findRunningSync(client, config.hub.name))?.workflowId;
        if (!workflowId)
          throw new CommandFailedError(`no sync of hub ${config.hub.name} is running: nothing to ${name}`);
        try {
          await client.workflow.getHandle(workflowId).signal(name === 'pause' ? pauseSignal : resumeSignal);
        } catch (error) {
          if ((error as Error).name === 'WorkflowNotFoundError') {
            throw new CommandFailedError(`${workflowId} is not running: nothing to ${name}`);
          }
          throw error;
        }
        if (values.json) printJson(ctx, { result: name, workflowId });
        else
          ctx.stdout.write(
            `${name === 'pause' ? 'Paused' : 'Resumed'} ${colorsFor(ctx.stdout, ctx.env).bold(workflowId)}` +
              `${name === 'pause' ? ' (batches already running finish; no new batch starts until resume)' : ''}\n`,
          );
        return ExitCode.Ok;
      });
    },
  );
}

export const pauseCommand = signalCommand(
  'pause',
  'Pauses the running sync: no new batch starts until `resume`.',
);
export const resumeCommand = signalCommand('resume', 'Resumes a paused sync.');
