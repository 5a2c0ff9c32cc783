/** What most commands do first: configuration from the environment and flags, then a Temporal client. */
import type { Client } from '@temporalio/client';
import { connectClient } from '../client';
import { loadConfig, type Config, type ConfigOverrides } from '../config';
import { CommandFailedError } from './errors';
import type { CommandContext } from './output';

/** Validated configuration; a ConfigError (exit 2) lists every problem. */
export function loadCliConfig(ctx: CommandContext, overrides: ConfigOverrides = {}): Config {
  return loadConfig(ctx.env, overrides);
}

/** Runs `fn` with a connected client and closes the connection afterwards. */
export async function withClient<T>(config: Config, fn: (client: Client) => Promise<T>): Promise<T> {
  let client: Client;
  try {
    client = await connectClient(config, { connectTimeout: 10_000 });
  } catch (error) {
    throw new CommandFailedError(
      `cannot reach Temporal at ${config.temporal.address} (namespace ${config.temporal.namespace}): ` +
        `${error instanceof Error ? error.message : String(error)}. Is the server up? Set TEMPORAL_ADDRESS or --address.`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}
