/**
 * Usage and configuration errors, help for every command: no Temporal server needed. Every bad flag or
 * value names itself and exits 2; configuration problems are listed all at once and exit 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, show } from './helpers';

/** A complete, valid configuration (nothing is contacted by the tests that use it). */
const validEnv = {
  TEMPORAL_ADDRESS: '127.0.0.1:1',
  AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000004',
  AZURE_RESOURCE_GROUP: 'rg-iot',
  IOT_HUB_NAME: 'hub-usage',
  DEVICES_FILE: '/nonexistent/devices.json',
  POLICIES_FILE: '/nonexistent/policies.json',
};

const COMMANDS = [
  'worker',
  'run',
  'status',
  'alerts',
  'rerun',
  'pause',
  'resume',
  'schedule create',
  'schedule describe',
  'schedule pause',
  'schedule unpause',
  'schedule trigger',
  'schedule delete',
  'preflight',
  'setup-rbac',
  'emulator',
  'demo',
];

describe('policy-sync usage', () => {
  it('prints help for the program and for every command, exit 0', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, show(top));
    for (const command of COMMANDS) assert.ok(top.stdout.includes(command.split(' ')[0]!), command);
    const results = await Promise.all(COMMANDS.map((command) => runCli([...command.split(' '), '--help'])));
    results.forEach((result, i) => {
      const command = COMMANDS[i]!;
      assert.equal(result.code, 0, `${command}: ${show(result)}`);
      assert.match(result.stdout, new RegExp(`Usage: policy-sync ${command}`), `${command}: ${show(result)}`);
    });
    const schedule = await runCli(['schedule', '--help']);
    assert.equal(schedule.code, 0, show(schedule));
    assert.match(schedule.stdout, /create.*\n(.*\n)*.*trigger/);
    // Every usage column ends two spaces or more before its description.
    for (const line of schedule.stdout.split('\n').filter((l) => l.startsWith('  schedule ')))
      assert.match(line, /^ {2}schedule \S.*?(\]|[a-z]) {2,}[A-Z]/, line);
  });

  it('refuses unknown commands and flags, naming them, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['schedule'], /schedule needs a subcommand/],
      [['schedule', 'explode'], /unknown schedule subcommand 'explode'/],
      [['run', '--fast'], /unknown flag '--fast' for 'run'/],
      [['status', '--workflow-id'], /--workflow-id needs a value/],
      [['rerun', '--failed-only=yes'], /--failed-only takes no value/],
      [['pause', 'now'], /unexpected argument 'now'/],
      [['alerts', 'frob'], /unknown alerts action 'frob'/],
      [['alerts', 'ack'], /'alerts ack' needs the alert id/],
      [['schedule', 'create', '--every', '4 hours'], /--every: '4 hours' is not a duration/],
      [['schedule', 'create', '--every', '10s'], /--every must be at least 1m/],
      [
        ['schedule', 'create', '--every', '0s'],
        /--every: '0s' is no time at all: give a duration above zero/,
      ],
      [['schedule', 'trigger', '--overlap', 'allow-all'], /--overlap must be one of skip, buffer-one/],
      [['preflight', '--timeout', 'soon'], /--timeout: 'soon' is not a duration/],
      [['run', '--devices', ' , '], /--devices needs at least one device id/],
      [['run', '--devices', 'device-0001,..'], /--devices: deviceId '\.\.' is a relative path segment/],
      [['rerun', '--devices', '%2e'], /--devices: deviceId '%2e' is a relative path segment/],
      [
        ['run', '--devices', 'a', '--devices', 'b'],
        /--devices is given more than once; .*comma-separated list/,
      ],
      [['status', '--hub', 'a', '--hub', 'b'], /--hub is given more than once; give it once$/m],
      [['run', '--batch-size', '500'], /--batch-size must be an integer from 1 to 50/],
      // Valid one by one, refused together (20 × 50 devices in flight), before any schedule is written.
      [['schedule', 'create', '--max-concurrent-batches', '20'], /Invalid sync settings: .*500/],
      [['demo', '--profile', 'stormy'], /--profile must be one of/],
      [['worker', '--verbose'], /unknown flag '--verbose' for 'worker'/],
      [['emulator', '--profile', 'stormy'], /profile/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, validEnv)));
    results.forEach((result, i) => {
      const [args, pattern] = cases[i]!;
      assert.equal(result.code, 2, `${args.join(' ')}: ${show(result)}`);
      assert.match(result.stderr, pattern, `${args.join(' ')}: ${show(result)}`);
      assert.equal(result.stdout, '', `${args.join(' ')}: nothing on stdout`);
    });
  });

  it('lists every configuration problem at once, exit 2', async () => {
    const result = await runCli(['run', '--json'], {
      AZURE_SUBSCRIPTION_ID: 'not-a-guid',
      POLICY_TARGET: 'blob',
      TEMPORAL_TLS_CERT: '/tmp/cert.pem',
      TEMPORAL_ADDRESS: 'not:a:port',
    });
    assert.equal(result.code, 2, show(result));
    assert.equal(result.stdout, '', '--json: nothing but JSON on stdout, and here nothing');
    for (const problem of [
      /AZURE_SUBSCRIPTION_ID must be a GUID/,
      /AZURE_RESOURCE_GROUP is required/,
      /IOT_HUB_NAME is required/,
      /POLICY_TARGET must be 'arm' or 'twin'/,
      /DEVICES_FILE is required/,
      /POLICIES_FILE is required/,
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/,
      /TEMPORAL_ADDRESS must be host\[:port\], e\.g\. localhost:7233/,
    ]) {
      assert.match(result.stderr, problem, show(result));
    }
  });

  it('asks each command only for what it uses: Temporal commands need no Azure variables', async () => {
    const temporalOnly = [
      ['status'],
      ['pause'],
      ['resume'],
      ['rerun', '--failed-only'],
      ['schedule', 'create'],
      ['schedule', 'describe'],
      ['schedule', 'trigger'],
    ];
    // Nothing set: the hub is all they miss (their workflows are named after it).
    const bare = await Promise.all(temporalOnly.map((args) => runCli(args)));
    bare.forEach((result, i) => {
      const args = temporalOnly[i]!.join(' ');
      assert.equal(result.code, 2, `${args}: ${show(result)}`);
      assert.match(
        result.stderr,
        /invalid configuration \(1 problem\):\n {2}- IOT_HUB_NAME is required\n/,
        args,
      );
      assert.doesNotMatch(result.stderr, /AZURE_|DEVICES_FILE|POLICIES_FILE/, `${args}: ${show(result)}`);
    });
    // With the hub (and a Temporal that is not there), they get as far as connecting: exit 1, not 2.
    const hubOnly = { IOT_HUB_NAME: 'hub-usage', TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const connecting = await Promise.all(temporalOnly.map((args) => runCli(args, hubOnly)));
    connecting.forEach((result, i) => {
      const args = temporalOnly[i]!.join(' ');
      assert.equal(result.code, 1, `${args}: ${show(result)}`);
      assert.match(result.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/, `${args}: ${show(result)}`);
    });
    // preflight and setup-rbac call Azure: its variables, but not the worker's inventory files.
    for (const args of [['preflight'], ['setup-rbac']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, show(result));
      for (const name of ['IOT_HUB_NAME', 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP'])
        assert.match(result.stderr, new RegExp(`${name} is required`), show(result));
      assert.doesNotMatch(result.stderr, /DEVICES_FILE|POLICIES_FILE/, show(result));
    }
    // The worker (and run, checked above) need everything.
    const worker = await runCli(['worker']);
    assert.equal(worker.code, 2, show(worker));
    for (const pattern of [
      /AZURE_SUBSCRIPTION_ID is required/,
      /DEVICES_FILE is required/,
      /POLICIES_FILE is required/,
    ])
      assert.match(worker.stderr, pattern, show(worker));
  });

  it('lists every bad flag at once with the configuration, naming a flag that overrides a variable', async () => {
    const result = await runCli(
      ['run', '--batch-size', '51', '--max-concurrent-batches', '0', '--target', 'foo'],
      { ...validEnv, AZURE_SUBSCRIPTION_ID: 'nope' },
    );
    assert.equal(result.code, 2, show(result));
    for (const problem of [
      /--target \(POLICY_TARGET must be 'arm' or 'twin' \(got "foo"\)\)/,
      /AZURE_SUBSCRIPTION_ID must be a GUID/,
      /--batch-size must be an integer from 1 to 50, not '51'/,
      /--max-concurrent-batches must be an integer from 1 to 100, not '0'/,
    ]) {
      assert.match(result.stderr, problem, show(result));
    }
    // Flags alone wrong: a usage error, still every one of them.
    const flagsOnly = await runCli(
      ['schedule', 'create', '--batch-size', '0', '--max-concurrent-batches', '101'],
      validEnv,
    );
    assert.equal(flagsOnly.code, 2, show(flagsOnly));
    assert.match(
      flagsOnly.stderr,
      /--batch-size must be an integer from 1 to 50, not '0'; --max-concurrent-batches must be an integer from 1 to 100, not '101'/,
    );
  });

  it('lets flags override the environment variable of the same meaning', async () => {
    const result = await runCli(['status', '--hub', 'x'], validEnv);
    assert.equal(result.code, 2, show(result));
    assert.match(result.stderr, /IOT_HUB_NAME must be 3-50 letters/);
  });

  it('fails with exit 1 and a hint when Temporal cannot be reached', async () => {
    const result = await runCli(['pause'], validEnv);
    assert.equal(result.code, 1, show(result));
    assert.match(result.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/);
  });
});
