import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { startEmulator } from '../../src/emulator';
import { parseEmulatorArgs, runEmulatorCommand, shellQuote } from '../../src/emulator/cli';

const exportLine = /^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/;

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

void describe('emulator command line', () => {
  void it('`policy-sync emulator --profile seed` prints export lines a shell can source, and a client configured from them gets a token', async () => {
    const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "require('./src/emulator/cli.ts').runEmulatorCommand(process.argv.slice(1)).then((code) => process.exit(code))",
        '--',
        'emulator',
        '--profile',
        'seed',
        '--port',
        '0',
        '--devices',
        '20',
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const ready = (): void => {
          const exports = stdout.split('\n').filter((line) => line.startsWith('export ')).length;
          if (exports >= 13 && stderr.includes('listening')) resolve();
        };
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          ready();
        });
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          ready();
        });
        child.on('exit', (code) => reject(new Error(`emulator exited early (${code}): ${stderr}`)));
      });
      const lines = stdout.trim().split('\n');
      const variables = Object.fromEntries(
        lines.map((line) => {
          const match = exportLine.exec(line);
          assert.ok(match, `an export line: ${line}`);
          return [match[1], match[2]];
        }),
      );
      assert.deepEqual(Object.keys(variables).sort(), [
        'ARM_ENDPOINT',
        'AZURE_AUTHORITY_HOST',
        'AZURE_CLIENT_ID',
        'AZURE_CLIENT_SECRET',
        'AZURE_RESOURCE_GROUP',
        'AZURE_SUBSCRIPTION_ID',
        'AZURE_TENANT_ID',
        'DEVICES_FILE',
        'IOT_HUB_HOST',
        'IOT_HUB_NAME',
        'NODE_EXTRA_CA_CERTS',
        'POLICIES_FILE',
        'SERVICE_PRINCIPAL_OBJECT_ID',
      ]);
      assert.match(stderr, /profile seed, 20 devices/);

      // A shell sources the lines; a fresh Node process started from it trusts the CA and gets a token.
      const client = spawn(
        'bash',
        [
          '-c',
          `eval "$EMULATOR_EXPORTS"; exec node -e "
            const { ClientSecretCredential } = require('@azure/identity');
            new ClientSecretCredential(process.env.AZURE_TENANT_ID, process.env.AZURE_CLIENT_ID, process.env.AZURE_CLIENT_SECRET,
              { authorityHost: process.env.AZURE_AUTHORITY_HOST, disableInstanceDiscovery: true })
              .getToken('https://management.azure.com/.default')
              .then((token) => console.log('token-length', token.token.length), (error) => { console.error(error.message); process.exit(1); });"`,
        ],
        {
          cwd: process.cwd(),
          env: {
            PATH: `${process.execPath.replace(/\/node$/, '')}:${process.env['PATH'] ?? ''}`,
            EMULATOR_EXPORTS: stdout,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let clientOut = '';
      let clientErr = '';
      client.stdout.on('data', (chunk: Buffer) => (clientOut += chunk.toString()));
      client.stderr.on('data', (chunk: Buffer) => (clientErr += chunk.toString()));
      const [clientCode] = (await once(client, 'close')) as [number | null];
      assert.equal(clientCode, 0, clientErr);
      assert.match(clientOut, /token-length \d+/);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.match(stderr, /stopped/);
  });

  void it('names a bad flag and exits with 2', async () => {
    for (const [argv, flag] of [
      [['--bogus'], '--bogus'],
      [['--profile', 'stormy'], '--profile'],
      [['--port', 'eighty'], '--port'],
      [['--devices', '-3'], '--devices'],
      [['--faults', '{"latency":{"fixedMs":"slow"}}'], '--faults'],
      [['--hub', 'hb'], '--hub'],
      [['--hub', 'hub_with_underscore'], '--hub'],
      [['--hub', 'h'.repeat(51)], '--hub'],
      [['--public-host', 'https://emulator'], '--public-host'],
      [['--host', 'no such host'], '--host'],
      [['stray'], 'stray'],
    ] as const) {
      const stderr = collect();
      const stdout = collect();
      const code = await runEmulatorCommand([...argv], { stderr: stderr.stream, stdout: stdout.stream });
      assert.equal(code, 2, argv.join(' '));
      assert.ok(stderr.text().includes(flag), `${argv.join(' ')} → ${stderr.text()}`);
      assert.equal(stdout.text(), '');
    }
  });

  void it('exits with 1 and says why when the port is taken', async () => {
    const running = await startEmulator({ devices: 1 });
    try {
      const stderr = collect();
      const code = await runEmulatorCommand(['--port', String(running.port)], {
        stderr: stderr.stream,
        stdout: collect().stream,
      });
      assert.equal(code, 1);
      assert.match(stderr.text(), /could not start: .*EADDRINUSE/);
    } finally {
      await running.close();
    }
  });

  void it('runs in-process until its signal aborts', async () => {
    const stdout = collect();
    const stderr = collect();
    const controller = new AbortController();
    const running = runEmulatorCommand(
      [
        '--port',
        '0',
        '--devices',
        '3',
        '--catalog',
        'public',
        '--token-lifetime',
        '60',
        '--hub',
        'hub-cli',
        '--public-host',
        'localhost',
      ],
      {
        signal: controller.signal,
        stdout: stdout.stream,
        stderr: stderr.stream,
      },
    );
    while (!stdout.text().includes('SERVICE_PRINCIPAL_OBJECT_ID'))
      await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    assert.equal(await running, 0);
    assert.match(stdout.text(), /^export AZURE_TENANT_ID='00000000-0000-4000-8000-000000000001'$/m);
    assert.match(stdout.text(), /^export IOT_HUB_NAME='hub-cli'$/m);
    assert.match(stdout.text(), /^export ARM_ENDPOINT='https:\/\/localhost:\d+'$/m);
    assert.match(stderr.text(), /listening on 127\.0\.0\.1:\d+ as https:\/\/localhost:\d+ \(hub hub-cli,/);
  });

  void it('parses defaults and quotes for the shell', () => {
    const parsed = parseEmulatorArgs([]);
    assert.deepEqual(parsed, { kind: 'run', options: { port: 8443, devices: 300, seed: 1 } });
    assert.deepEqual(parseEmulatorArgs(['--no-grant', '--seed', '7']), {
      kind: 'run',
      options: { port: 8443, devices: 300, seed: 7, grantOnStart: false },
    });
    assert.deepEqual(
      parseEmulatorArgs(['--hub', 'hub-a1', '--host', '0.0.0.0', '--public-host', 'emulator']),
      {
        kind: 'run',
        options: {
          port: 8443,
          devices: 300,
          seed: 1,
          hubName: 'hub-a1',
          host: '0.0.0.0',
          publicHost: 'emulator',
        },
      },
    );
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});
