/**
 * A dev server in memory that goes away: `run --wait` says it lost Temporal (not a raw gRPC error), and
 * `status` against the fresh server that forgot every sync says why it may find none. Its own dev servers:
 * this file kills them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { runCli, show, startCli } from './helpers';

const env = (address: string): NodeJS.ProcessEnv => ({
  TEMPORAL_ADDRESS: address,
  TEMPORAL_TASK_QUEUE: 'lost-server-no-worker',
  AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
  AZURE_RESOURCE_GROUP: 'rg',
  IOT_HUB_NAME: 'hub-lost',
  DEVICES_FILE: 'devices.json',
  POLICIES_FILE: 'policies.json',
});

void describe('a Temporal dev server in memory that stops', () => {
  const servers: DevServer[] = [];
  after(async () => {
    for (const server of servers) await server.stop().catch(() => undefined);
  });

  void it('run --wait names the lost connection; status hints that the server forgot', async () => {
    const server = await startDevServer({ ui: false });
    servers.push(server);
    // No worker polls this task queue: the sync waits, and so does `run --wait`.
    const running = startCli(['run', '--wait'], env(server.address));
    await running.waitFor(/watching/, 60_000);
    await server.stop();
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 120_000);
    const result = await running.exited.finally(() => clearTimeout(timer));
    assert.equal(result.code, 1, show(result));
    assert.match(
      result.stderr,
      new RegExp(
        `lost the connection to Temporal at ${server.address} while waiting for iot-policy-sync-hub-lost-manual-`,
      ),
      show(result),
    );
    assert.match(result.stderr, /in-memory dev server .* loses every workflow when it stops/, show(result));
    assert.doesNotMatch(result.stderr, /ServiceError|14 UNAVAILABLE/, show(result));

    const fresh = await startDevServer({ ui: false });
    servers.push(fresh);
    const status = await runCli(['status'], env(fresh.address));
    assert.equal(status.code, 1, show(status));
    assert.match(status.stderr, /no sync of hub hub-lost found/, show(status));
    assert.match(status.stderr, /in-memory dev server .* forgets them on restart/, show(status));
  });
});
