/** What most commands do first: configuration from the environment and flags, then a Temporal client. */
import type { Client } from '@temporalio/client';
import { connectClient } from '../client';
import { causeChain } from '../domain/cause-chain';
import {
  ConfigError,
  loadAzureConfig,
  loadConfig,
  loadTemporalConfig,
  type AzureConfig,
  type Config,
  type ConfigOverrides,
  type WorkerConfig,
} from '../config';
import {
  CommandFailedError,
  MissingSearchAttributesError,
  missingSearchAttributeHint,
  UsageError,
} from './errors';
import type { CommandContext } from './output';

/** The error (exit 1) for a Temporal frontend that cannot be reached. */
export function temporalUnreachable(config: Config, error: unknown): CommandFailedError {
  return new CommandFailedError(
    `cannot reach Temporal at ${config.temporal.address} (namespace ${config.temporal.namespace}): ` +
      `${error instanceof Error ? error.message : String(error)}. Is the server up? Set TEMPORAL_ADDRESS or --address.`,
  );
}

/** Whether the error (or one of its causes) says the Temporal frontend cannot be reached (gRPC UNAVAILABLE). */
export function isTemporalUnavailable(error: unknown): boolean {
  return causeChain(error).some(
    (e) =>
      e.code === GRPC_UNAVAILABLE || (typeof e.message === 'string' && /\b14 UNAVAILABLE\b/.test(e.message)),
  );
}
const GRPC_UNAVAILABLE = 14;

/** What an in-memory dev server does to the syncs it knew, said where a user would otherwise be puzzled. */
export const IN_MEMORY_HISTORY_HINT =
  'an in-memory dev server (temporal server start-dev without --db-filename) loses every workflow when it stops';

/** The error (exit 1) for a Temporal server lost while watching a sync. */
export function temporalLostWhileWaiting(config: Config, workflowId: string): CommandFailedError {
  return new CommandFailedError(
    `lost the connection to Temporal at ${config.temporal.address} while waiting for ${workflowId}; the sync may ` +
      `still be running, or the server lost its history (${IN_MEMORY_HISTORY_HINT}). ` +
      `Check with: policy-sync status --workflow-id ${workflowId}`,
  );
}

/** The flag that overrides each variable, to name what the user typed in a problem. */
const FLAG_OF_VARIABLE: Partial<Record<keyof ConfigOverrides, string>> = {
  IOT_HUB_NAME: '--hub',
  TEMPORAL_ADDRESS: '--address',
  TEMPORAL_NAMESPACE: '--namespace',
  TEMPORAL_TASK_QUEUE: '--task-queue',
  POLICY_TARGET: '--target',
  SERVICE_PRINCIPAL_OBJECT_ID: '--principal-id',
  WORKER_METRICS_PORT: '--metrics-port',
  WORKER_MAX_CONCURRENT_ACTIVITIES: '--max-concurrent-activities',
};

/**
 * What a command that only talks to Temporal reads (run, status, rerun, pause, resume, schedule): the
 * Temporal connection, the hub and the target. A ConfigError (exit 2) lists every problem at once: those of
 * the environment, those of flags overriding it (named by flag), and `flagProblems`, the command's other bad
 * flags.
 */
export function loadCliConfig(
  ctx: CommandContext,
  overrides: ConfigOverrides = {},
  flagProblems: readonly string[] = [],
): Config {
  return loadWith(loadTemporalConfig, ctx, overrides, flagProblems);
}

/** As loadCliConfig, plus the Azure side: for commands that call Azure (preflight, setup-rbac). */
export function loadCliAzureConfig(
  ctx: CommandContext,
  overrides: ConfigOverrides = {},
  flagProblems: readonly string[] = [],
): AzureConfig {
  return loadWith(loadAzureConfig, ctx, overrides, flagProblems);
}

/** Every variable: for the worker (inventory, alerts and its own settings besides Azure). */
export function loadCliWorkerConfig(
  ctx: CommandContext,
  overrides: ConfigOverrides = {},
  flagProblems: readonly string[] = [],
): WorkerConfig {
  return loadWith(loadConfig, ctx, overrides, flagProblems);
}

function loadWith<C>(
  load: (env: NodeJS.ProcessEnv, overrides: ConfigOverrides) => C,
  ctx: CommandContext,
  overrides: ConfigOverrides,
  flagProblems: readonly string[],
): C {
  let config: C;
  try {
    config = load(ctx.env, overrides);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const named = error.problems.map((problem) => {
      const variable = Object.keys(FLAG_OF_VARIABLE).find(
        (key) => overrides[key as keyof ConfigOverrides] !== undefined && problem.startsWith(`${key} `),
      ) as keyof ConfigOverrides | undefined;
      return variable ? `${FLAG_OF_VARIABLE[variable]} (${problem})` : problem;
    });
    throw new ConfigError([...named, ...flagProblems]);
  }
  if (flagProblems.length > 0) throw new UsageError(flagProblems.join('; '));
  return config;
}

/** Runs `parse`; a UsageError becomes one more entry of `problems` (so that every problem shows at once). */
export function collectUsageProblem<T>(parse: () => T, problems: string[]): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    problems.push(...error.problems);
    return undefined;
  }
}

/** Runs `fn` with a connected client and closes the connection afterwards. */
export async function withClient<T>(config: Config, fn: (client: Client) => Promise<T>): Promise<T> {
  let client: Client;
  try {
    client = await connectClient(config, { connectTimeout: 10_000 });
  } catch (error) {
    throw temporalUnreachable(config, error);
  }
  try {
    return await fn(client);
  } catch (error) {
    // Here the namespace is known, whatever the flags said: a list query's refusal does not name it.
    const hint = missingSearchAttributeHint(error, config.temporal.namespace);
    if (hint) throw new MissingSearchAttributesError(hint, { cause: error });
    throw error;
  } finally {
    await client.connection.close();
  }
}
