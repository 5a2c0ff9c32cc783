/**
 * A namespace without the product's search attributes (a bare `temporal server start-dev`): the CLI says
 * what is missing and the commands that register it, exits 2, and those very commands make it work.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { resolveTemporalCli } from '../../src/devserver/temporal-cli';
import { startEmulator, type Emulator } from '../../src/emulator';
import { eventually } from '../support/temporal';
import { runCli } from './helpers';

const execFileAsync = promisify(execFile);

void describe('a Temporal namespace without the search attributes', () => {
  let server: DevServer;
  let emulator: Emulator;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startDevServer({ ui: false, searchAttributes: false });
    emulator = await startEmulator({ devices: 3, profile: 'calm' });
    env = { ...emulator.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: 'temporal-setup-test' };
  });
  after(async () => {
    await emulator?.close();
    await server?.stop();
  });

  void it('run, schedule create and status name the missing attribute and how to register it (exit 2); the printed commands fix it', async () => {
    // Starting (run, schedule create) and listing (status: a visibility query) word the refusal differently.
    const refused = await Promise.all([
      runCli(['run'], env),
      runCli(['schedule', 'create'], env),
      runCli(['status'], env),
    ]);
    for (const [i, result] of refused.entries()) {
      assert.equal(result.code, 2, `command ${i}: ${result.stderr}`);
      // Both are missing; the server names whichever it checks first, and that order is not fixed.
      assert.match(result.stderr, /namespace 'default' has no search attribute '(IotHub|PolicySyncPhase)'/);
      assert.doesNotMatch(result.stderr, /ServiceError|INVALID_ARGUMENT/, 'no raw gRPC error');
    }

    // The hint's own commands, as printed.
    const commands = refused[0]!.stderr
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('temporal operator search-attribute create'));
    assert.equal(commands.length, 2, refused[0]!.stderr);
    const cli = resolveTemporalCli({ build: false }) ?? 'temporal';
    for (const command of commands) {
      const args = command.split(/\s+/).slice(1);
      await execFileAsync(cli, [...args, '--address', server.address], { timeout: 30_000 });
    }

    // A frontend may take a moment to see new attributes: the user would try again, so does the test.
    const started = await eventually(
      'run starts once the attributes are registered',
      () => runCli(['run'], env),
      (result) => result.code === 0,
      30_000,
      1_000,
    );
    assert.match(started.stdout, /Started iot-policy-sync-hub-emulated-manual-/);
  });

  void it('names the namespace the command used (--namespace), though a list query does not say it', async () => {
    const cli = resolveTemporalCli({ build: false }) ?? 'temporal';
    await execFileAsync(
      cli,
      ['operator', 'namespace', 'create', '--namespace', 'fleet-b', '--address', server.address],
      {
        timeout: 30_000,
      },
    );
    const refused = await eventually(
      'the new namespace is served',
      () => runCli(['status', '--namespace', 'fleet-b'], env),
      (result) => !/Namespace fleet-b is not found/i.test(result.stderr),
      30_000,
      1_000,
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /the Temporal namespace 'fleet-b' has no search attribute/);
    assert.match(
      refused.stderr,
      /temporal operator search-attribute create --namespace fleet-b --name IotHub --type Keyword/,
    );
  });
});
