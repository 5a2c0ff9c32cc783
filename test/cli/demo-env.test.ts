/**
 * The demo's `.policy-sync/demo.env` as a user meets it: the demo runs in one directory, and another shell
 * sources the file and drives the CLI against the demo (status, schedule describe, pause, resume, preflight).
 * The file holds the emulator's client secret: mode 0600, never echoed, gone when the demo stops.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, baseEnv, show, startCli, type CliResult } from './helpers';

const repo = join(__dirname, '..', '..');
const cwd = mkdtempSync(join(tmpdir(), 'policy-sync-demo-env-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

// `policy-sync` on PATH, as `npx policy-sync` finds it inside the repository.
const shimDir = join(cwd, 'shim');
const shim = join(shimDir, 'policy-sync');

/** Runs `script` in bash, cwd `dir`, with nothing of this machine's configuration but PATH and HOME. */
function shell(script: string, dir = cwd, timeoutInMs = 120_000): Promise<CliResult> {
  const env = baseEnv();
  env.PATH = `${shimDir}:${env.PATH ?? ''}`;
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutInMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('policy-sync demo writes .policy-sync/demo.env', () => {
  it('points the CLI of another shell at the running demo, and is removed when the demo stops', async () => {
    mkdirSync(shimDir);
    writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
    chmodSync(shim, 0o755);

    const demo = startCli(['demo', '--devices', '20', '--profile', 'calm'], {}, cwd);
    const envFile = join(cwd, '.policy-sync', 'demo.env');
    try {
      await demo.waitFor(/source \.policy-sync\/demo\.env/, 300_000);
      assert.ok(
        existsSync(envFile),
        show({ code: null, signal: null, stdout: demo.stdout(), stderr: demo.stderr() }),
      );
      assert.equal(statSync(envFile).mode & 0o777, 0o600, 'it holds a secret: only its owner reads it');
      assert.equal(statSync(join(cwd, '.policy-sync')).mode & 0o777, 0o700);
      const text = readFileSync(envFile, 'utf8');
      const secret = /^export AZURE_CLIENT_SECRET='([^']+)'$/m.exec(text)?.[1];
      assert.ok(secret, text);
      for (const name of [
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'TEMPORAL_TASK_QUEUE',
        'AZURE_TENANT_ID',
        'AZURE_CLIENT_ID',
        'AZURE_AUTHORITY_HOST',
        'AZURE_SUBSCRIPTION_ID',
        'AZURE_RESOURCE_GROUP',
        'IOT_HUB_NAME',
        'ARM_ENDPOINT',
        'IOT_HUB_HOST',
        'NODE_EXTRA_CA_CERTS',
        'DEVICES_FILE',
        'POLICIES_FILE',
        'SERVICE_PRINCIPAL_OBJECT_ID',
      ])
        assert.match(text, new RegExp(`^export ${name}='[^']+'$`, 'm'), name);

      // The demo's own sync first, so that status has something to show.
      await demo.waitFor(/Everything stays up/, 300_000);
      assert.match(demo.stdout(), /source \.policy-sync\/demo\.env && npx policy-sync status/);

      const status = await shell('source .policy-sync/demo.env && policy-sync status');
      assert.equal(status.code, 0, show(status));
      assert.match(status.stdout, /iot-policy-sync-hub-emulated-/, show(status));
      assert.match(status.stdout, /20/, show(status));

      // As the README has it: from the repository, `npx policy-sync` finds the package's own command.
      const describeSchedule = await shell(
        `source '${envFile}' && npx --offline policy-sync schedule describe`,
        repo,
      );
      assert.equal(describeSchedule.code, 0, show(describeSchedule));
      assert.match(describeSchedule.stdout, /iot-policy-sync-hub-emulated/, show(describeSchedule));

      const preflight = await shell('source .policy-sync/demo.env && policy-sync preflight');
      assert.equal(preflight.code, 0, show(preflight));
      assert.match(
        preflight.stdout,
        /Every permission the arm target needs is effective on hub hub-emulated/,
      );

      // A sync on a task queue no worker polls stays running: something to pause and resume for sure.
      const parked = await shell(
        'source .policy-sync/demo.env && policy-sync run --task-queue parked-for-pause --json',
      );
      assert.equal(parked.code, 0, show(parked));
      const { workflowId } = JSON.parse(parked.stdout) as { workflowId: string };
      const pause = await shell(
        `source .policy-sync/demo.env && policy-sync pause --workflow-id ${workflowId}`,
      );
      assert.equal(pause.code, 0, show(pause));
      assert.match(pause.stdout, new RegExp(`Paused ${workflowId}`));
      const resume = await shell(
        `source .policy-sync/demo.env && policy-sync resume --workflow-id ${workflowId}`,
      );
      assert.equal(resume.code, 0, show(resume));
      assert.match(resume.stdout, new RegExp(`Resumed ${workflowId}`));

      for (const output of [demo.stdout(), demo.stderr(), status.stdout, status.stderr, preflight.stdout])
        assert.ok(!output.includes(secret), 'the secret is in the file only');

      demo.child.kill('SIGINT');
      const ended = await demo.exited;
      assert.equal(ended.code, 0, show(ended));
      assert.ok(!existsSync(envFile), 'the settings are removed with the demo');

      // A copy left behind (a demo killed with SIGKILL) says it is stale when sourced.
      writeFileSync(join(cwd, 'old.env'), text, { mode: 0o600 });
      const stale = await shell('source ./old.env && echo sourced');
      assert.match(stale.stderr, /is not running: these settings are stale/, show(stale));
    } finally {
      if (demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGKILL');
    }
  });
});
