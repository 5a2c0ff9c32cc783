/**
 * Bad input (reliability): a corpus of malformed inventories, policy files, configurations and
 * flags (test/fixtures/bad-input/) run through the real CLI, `policy-sync run --wait --json`, against the
 * emulator and the product's worker, which reads DEVICES_FILE and POLICIES_FILE as in production.
 *
 * Expected, per docs/interface.md and the README:
 * - a bad row never stops a sync: it is listed in the summary's `rejected` with its file, 1-based row and a
 *   reason naming the field; the valid rows are synced (the emulator holds their documents); exit 0 when no
 *   device failed;
 * - a whole file unusable (missing, empty, truncated, wrong shape) fails the run with a message naming the
 *   variable and the file; exit 1; nothing written;
 * - a device that fails to be written is in `failed` with its code; exit 1;
 * - bad configuration or flags: every problem named on stderr, exit 2, no sync started.
 *
 * One table of cases; each inventory case gets a worker of its own (its own task queue and files). Cases run
 * a few at a time: across all fixtures a device id always names the same policy and a policy name always
 * the same document, so concurrent cases agree on what a device should hold.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { Emulator } from '../../src/emulator';
import type { RunSummary } from '../../src/workflows/types';
import { runCli, show, type CliResult } from '../cli/helpers';
import { connectTestTemporal, type TestTemporal } from '../support/temporal';
import { describeLeaks, recordEmulatorSecrets, recordLogs, SecretScanner } from '../e2e/secrets';
import {
  captureSdkLogs,
  productEnv,
  report,
  startInProcessWorker,
  startTrustedEmulator,
  uniqueHub,
  type InProcessWorker,
} from '../e2e/support';

const FIXTURES = join(__dirname, '..', 'fixtures', 'bad-input');
const fixture = (name: string) => join(FIXTURES, name);
const CONCURRENCY = Number(process.env.BAD_INPUT_CONCURRENCY ?? 3);

interface ExpectedRejection {
  /** A part of `source`: the fixture's file name, or `--devices`. */
  source: string;
  row: number;
  reason: RegExp;
}

interface Case {
  name: string;
  /** Fixture for DEVICES_FILE. @default devices.json (valid) */
  devices?: string;
  /** Fixture for POLICIES_FILE. @default policies.json (valid) */
  policies?: string;
  /** A fixture `KEY=VALUE` file applied over the environment (worker and CLI). */
  config?: string;
  /** Extra arguments after `run --wait --json`. */
  flags?: string[];
  exit: 0 | 1 | 2;
  /** Devices that must end holding their policy: id → policy name in the case's POLICIES_FILE. */
  synced?: Record<string, string>;
  rejected?: ExpectedRejection[];
  failed?: { deviceId: string; code: string }[];
  /** The run fails as a whole (exit 1): substrings of its failure message. */
  runFailure?: RegExp[];
  /** Configuration or usage error (exit 2): substrings of stderr. */
  stderr?: RegExp[];
  /**
   * A product bug this case shows: its problems are reported by that bug's own test (at the end of the
   * file), so the table's test stays about everything else. A worker serves it, in case a sync starts.
   */
  bug?: BugId;
}

type BugId = 'hidden-cause' | 'cli-input-validation';
/** Problems per known product bug, asserted by the tests at the end of the file. */
const bugs: Record<BugId, string[]> = { 'hidden-cause': [], 'cli-input-validation': [] };

const ALL = {
  'device-0001': 'baseline',
  'device-0002': 'strict',
  'device-0003': 'kiosk',
  'device-0004': 'default',
};

const CASES: Case[] = [
  // ---- device rows: rejected one by one, the rest synced ----
  {
    name: 'device ids IoT Hub refuses (empty, space, non-ASCII, slash, 129 characters)',
    devices: 'devices-bad-ids.json',
    exit: 0,
    synced: { 'device-0001': 'baseline', 'device-0005': 'strict' },
    rejected: [
      { source: 'devices-bad-ids.json', row: 2, reason: /deviceId is empty/ },
      { source: 'devices-bad-ids.json', row: 3, reason: /deviceId 'device 0002' contains ' ' \(space\)/ },
      { source: 'devices-bad-ids.json', row: 4, reason: /deviceId 'dévice-0003' contains 'é'/ },
      { source: 'devices-bad-ids.json', row: 5, reason: /deviceId 'device\/0004' contains '\/'/ },
      {
        source: 'devices-bad-ids.json',
        row: 6,
        reason: /deviceId is 129 characters long; IoT Hub allows at most 128/,
      },
    ],
  },
  {
    name: 'control characters in device ids',
    devices: 'devices-control-chars.json',
    exit: 0,
    synced: { 'device-0003': 'kiosk' },
    rejected: [
      { source: 'devices-control-chars.json', row: 1, reason: /deviceId .* contains U\+0009/ },
      { source: 'devices-control-chars.json', row: 2, reason: /deviceId .* contains U\+0000/ },
    ],
  },
  {
    name: 'wrong types: numbers, a bare string, null, an array, a row without deviceId',
    devices: 'devices-wrong-types.json',
    exit: 0,
    synced: { 'device-0006': 'strict', 'device-0007': 'default' },
    rejected: [
      { source: 'devices-wrong-types.json', row: 1, reason: /deviceId must be a string/ },
      { source: 'devices-wrong-types.json', row: 2, reason: /policy must be a string/ },
      { source: 'devices-wrong-types.json', row: 3, reason: /row must be an object .* not string/ },
      { source: 'devices-wrong-types.json', row: 4, reason: /row must be an object .* not null/ },
      { source: 'devices-wrong-types.json', row: 5, reason: /row must be an object .* not an array/ },
      { source: 'devices-wrong-types.json', row: 6, reason: /deviceId is missing/ },
    ],
  },
  {
    name: 'a duplicated device id: the later row is rejected',
    devices: 'devices-duplicates.json',
    exit: 0,
    synced: { 'device-0001': 'baseline', 'device-0002': 'strict' },
    rejected: [
      {
        source: 'devices-duplicates.json',
        row: 3,
        reason: /deviceId 'device-0001' duplicates row 1; the first one is kept/,
      },
    ],
  },
  {
    name: 'unknown policy names (and one longer than 256 characters)',
    devices: 'devices-unknown-policy.json',
    exit: 0,
    synced: { 'device-0001': 'baseline' },
    rejected: [
      {
        source: 'devices-unknown-policy.json',
        row: 2,
        reason: /policy 'paranoid' of device 'device-0002' is not in POLICIES_FILE .*policies\.json/,
      },
      { source: 'devices-unknown-policy.json', row: 3, reason: /policy name is longer than 256 characters/ },
    ],
  },
  {
    name: 'a valid id the hub does not have: the device fails, the others sync',
    devices: 'devices-unknown-device.json',
    exit: 1,
    synced: { 'device-0001': 'baseline' },
    failed: [{ deviceId: 'ghost-device-9', code: 'DeviceNotFound' }],
  },
  {
    name: 'CSV quirks: header case, order and spaces, CRLF, quotes, blank lines, empty policy, extra field',
    devices: 'devices-quirks.csv',
    exit: 0,
    synced: {
      'device-0001': 'baseline',
      'device-0002': 'strict',
      'device-0004': 'default',
      'device-0005': 'strict',
    },
    rejected: [
      {
        source: 'devices-quirks.csv',
        row: 4,
        reason: /row has 3 fields but the header has 2 \(a value with a comma needs quotes\) \(line 6\)/,
      },
    ],
  },
  {
    name: 'JSON devices with a byte-order mark',
    devices: 'devices-bom.json',
    exit: 0,
    synced: { 'device-0001': 'baseline', 'device-0002': 'strict' },
    rejected: [],
  },
  {
    name: 'CSV devices with a byte-order mark and CRLF',
    devices: 'devices-bom.csv',
    exit: 0,
    synced: { 'device-0001': 'baseline', 'device-0002': 'strict' },
    rejected: [],
  },
  // ---- devices file unusable as a whole ----
  {
    name: 'truncated JSON devices',
    devices: 'devices-truncated.json',
    exit: 1,
    runFailure: [/DEVICES_FILE \S*devices-truncated\.json is not valid JSON \(the file looks truncated\)/],
  },
  {
    name: 'an empty devices file',
    devices: 'devices-empty.json',
    exit: 1,
    runFailure: [/DEVICES_FILE \S*devices-empty\.json is empty/],
  },
  {
    name: 'a devices file of whitespace',
    devices: 'devices-whitespace.json',
    exit: 1,
    runFailure: [/DEVICES_FILE \S*devices-whitespace\.json is empty/],
  },
  {
    name: 'a JSON object where the array should be',
    devices: 'devices-not-array.json',
    exit: 1,
    runFailure: [/DEVICES_FILE \S*devices-not-array\.json must hold a JSON array .* not object/],
  },
  {
    name: 'CSV without a header',
    devices: 'devices-no-header.csv',
    exit: 1,
    runFailure: [
      /DEVICES_FILE \S*devices-no-header\.csv: the first line must be a header naming a deviceId column/,
      /found: device-0001, baseline/,
    ],
  },
  {
    name: 'CSV with semicolons',
    devices: 'devices-semicolon.csv',
    exit: 1,
    runFailure: [
      /devices-semicolon\.csv: the first line must be a header naming a deviceId column .*found: deviceId;policy/,
    ],
  },
  {
    name: 'a devices file that does not exist',
    config: 'config-missing-files-paths.env',
    exit: 1,
    runFailure: [/DEVICES_FILE \/nonexistent\/iot-policy-sync\/devices\.json does not exist/],
  },
  {
    name: 'every device row refused: the run fails (a sync of nothing is not a success), nothing written',
    devices: 'devices-all-invalid.csv',
    exit: 1,
    runFailure: [
      /DEVICES_FILE \S*devices-all-invalid\.csv: none of its 3 device rows can be synced \(row 1: deviceId 'device 0001' contains ' ' \(space\)/,
      /row 3: policy 'no-such-policy' of device 'device-0003' is not in POLICIES_FILE/,
    ],
  },
  {
    name: 'an empty JSON array: nothing to do',
    devices: 'devices-empty-array.json',
    exit: 0,
    synced: {},
    rejected: [],
  },
  {
    name: 'a CSV header and no rows: nothing to do',
    devices: 'devices-header-only.csv',
    exit: 0,
    synced: {},
    rejected: [],
  },
  // ---- policies ----
  {
    name: 'an oversized policy document: it and its devices rejected',
    devices: 'devices-policy-refs.json',
    policies: 'policies-oversized.json',
    exit: 0,
    synced: { 'device-0002': 'strict', 'device-0003': 'kiosk', 'device-0004': 'default' },
    rejected: [
      {
        source: 'policies-oversized.json',
        row: 1,
        reason: /policy 'baseline': the document is \d+ bytes; at most 32768 \(32 KB\) are allowed/,
      },
      {
        source: 'devices-policy-refs.json',
        row: 1,
        reason:
          /policy 'baseline' of device 'device-0001' was rejected in POLICIES_FILE \S*policies-oversized\.json: .*32 KB/,
      },
    ],
  },
  {
    name: 'a policy document of 10,000 nested arrays (21 KB): it and its devices rejected, the rest synced',
    devices: 'devices-policy-refs.json',
    policies: 'policies-deep.json',
    exit: 0,
    synced: { 'device-0002': 'strict', 'device-0003': 'kiosk', 'device-0004': 'default' },
    rejected: [
      {
        source: 'policies-deep.json',
        row: 1,
        reason: /policy 'baseline': the document nests more than 32 levels of objects and arrays; at most 32/,
      },
      {
        source: 'devices-policy-refs.json',
        row: 1,
        reason:
          /policy 'baseline' of device 'device-0001' was rejected in POLICIES_FILE \S*policies-deep\.json: .*32 levels/,
      },
    ],
  },
  {
    name: 'policy documents of the wrong type (array, string, null)',
    devices: 'devices-policy-refs.json',
    policies: 'policies-wrong-types.json',
    exit: 0,
    synced: { 'device-0004': 'default' },
    rejected: [
      {
        source: 'policies-wrong-types.json',
        row: 1,
        reason: /policy 'baseline': the document must be a JSON object, not an array/,
      },
      {
        source: 'policies-wrong-types.json',
        row: 2,
        reason: /policy 'strict': the document must be a JSON object, not string/,
      },
      {
        source: 'policies-wrong-types.json',
        row: 3,
        reason: /policy 'kiosk': the document must be a JSON object, not null/,
      },
      {
        source: 'devices-policy-refs.json',
        row: 1,
        reason: /policy 'baseline' of device 'device-0001' was rejected/,
      },
      {
        source: 'devices-policy-refs.json',
        row: 2,
        reason: /policy 'strict' of device 'device-0002' was rejected/,
      },
      {
        source: 'devices-policy-refs.json',
        row: 3,
        reason: /policy 'kiosk' of device 'device-0003' was rejected/,
      },
    ],
  },
  {
    name: 'an empty policy name',
    policies: 'policies-empty-name.json',
    exit: 0,
    synced: ALL,
    rejected: [{ source: 'policies-empty-name.json', row: 1, reason: /policy name is empty/ }],
  },
  {
    name: 'policies with a byte-order mark',
    policies: 'policies-bom.json',
    exit: 0,
    synced: ALL,
    rejected: [],
  },
  {
    name: 'policies in Latin-1 (an é as the byte 0xE9)',
    policies: 'policies-latin1.json',
    exit: 1,
    runFailure: [
      /POLICIES_FILE \S*policies-latin1\.json is not valid UTF-8: byte 0xE9 at offset 915 \(line 48\)/,
    ],
  },
  {
    name: 'CSV devices in Latin-1 (an é as the byte 0xE9)',
    devices: 'devices-latin1.csv',
    exit: 1,
    runFailure: [/DEVICES_FILE \S*devices-latin1\.csv is not valid UTF-8: byte 0xE9 at offset 82 \(line 4\)/],
  },
  {
    name: 'truncated policies',
    policies: 'policies-truncated.json',
    exit: 1,
    runFailure: [/POLICIES_FILE \S*policies-truncated\.json is not valid JSON \(the file looks truncated\)/],
  },
  {
    name: 'an empty policies file',
    policies: 'policies-empty.json',
    exit: 1,
    runFailure: [/POLICIES_FILE \S*policies-empty\.json is empty/],
  },
  {
    name: 'policies as an array',
    policies: 'policies-not-object.json',
    exit: 1,
    runFailure: [
      /POLICIES_FILE \S*policies-not-object\.json must hold a JSON object mapping policy names to documents, not an array/,
    ],
  },
  // ---- configuration: every problem at once, exit 2 ----
  {
    name: 'several variables wrong at once',
    config: 'config-several-wrong.env',
    exit: 2,
    stderr: [
      /AZURE_SUBSCRIPTION_ID must be a GUID/,
      /IOT_HUB_NAME must be 3-50 letters, digits or hyphens/,
      /POLICY_TARGET must be 'arm' or 'twin'/,
      /ARM_ENDPOINT must be an https:\/\/ URL/,
      /WORKER_MAX_CONCURRENT_ACTIVITIES must be a number/,
      /INVENTORY_SOURCE must be 'file' or 'hub'/,
    ],
  },
  {
    name: 'inventory variables empty',
    config: 'config-missing-files.env',
    exit: 2,
    stderr: [/DEVICES_FILE is required when INVENTORY_SOURCE=file/, /POLICIES_FILE is required/],
  },
  {
    name: 'half an mTLS pair',
    config: 'config-tls-half.env',
    exit: 2,
    stderr: [/TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/],
  },
  // ---- flags ----
  { name: '--batch-size 0', flags: ['--batch-size', '0'], exit: 2, stderr: [/--batch-size/] },
  { name: '--batch-size 51', flags: ['--batch-size', '51'], exit: 2, stderr: [/--batch-size/] },
  { name: 'an unknown flag', flags: ['--bogus'], exit: 2, stderr: [/--bogus/] },
  {
    name: '--target blob',
    flags: ['--target', 'blob'],
    exit: 2,
    stderr: [/POLICY_TARGET must be 'arm' or 'twin'/],
  },
  {
    name: '--devices with no id',
    flags: ['--devices', ' , '],
    exit: 2,
    stderr: [/--devices needs at least one device id/],
  },
  {
    name: 'a positional argument',
    flags: ['device-0001'],
    exit: 2,
    stderr: [/unexpected argument 'device-0001': 'run' takes no arguments/],
  },
  {
    name: '--batch-size 1.5',
    flags: ['--batch-size', '1.5'],
    exit: 2,
    stderr: [/--batch-size must be an integer from 1 to 50, not '1.5'/],
  },
  { name: '--wait=yes', flags: ['--wait=yes'], exit: 2, stderr: [/--wait takes no value/] },
  {
    // Each flag is in range, together they pass the workflow's limit of 500 devices in flight.
    name: '--max-concurrent-batches 20 (20 × 50 devices in flight)',
    flags: ['--max-concurrent-batches', '20'],
    exit: 2,
    stderr: [/max-concurrent-batches|maxConcurrentBatches/, /500/],
    bug: 'cli-input-validation',
  },
  {
    name: '--devices naming only ids not in the inventory: the run fails, nothing written',
    flags: ['--devices', 'not here,nor-here'],
    exit: 1,
    runFailure: [
      /--devices: none of the 2 device ids given can be synced \(deviceId 'not here' cannot be synced/,
    ],
  },
  {
    name: '--devices naming one id not in the inventory',
    flags: ['--devices', 'device-0001,not here,device-0002'],
    exit: 0,
    synced: { 'device-0001': 'baseline', 'device-0002': 'strict' },
    rejected: [
      {
        source: '--devices',
        row: 2,
        reason: /deviceId 'not here' cannot be synced: it is not in the inventory/,
      },
    ],
  },
];

let temporal: TestTemporal;
let emulator: Emulator;
const outputs: string[] = [];
const workerLogs: string[] = [];
const durations: { name: string; ms: number; exit: number | null; phases: string }[] = [];
let sdkLogs: string[] = [];

before(async () => {
  temporal = await connectTestTemporal();
  sdkLogs = captureSdkLogs();
  emulator = await startTrustedEmulator({
    devices: 12,
    profile: 'calm',
    hubName: uniqueHub('hub-bad-input'),
  });
});
after(async () => {
  if (emulator) {
    recordEmulatorSecrets('chaos-bad-input', emulator);
    await emulator.close();
  }
  recordLogs('chaos-bad-input', [...outputs, ...workerLogs, ...sdkLogs].join('\n'));
  await temporal?.close();
});

function readEnvFile(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(fixture(name), 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

/** Policy documents of a fixture (BOM allowed), by name. */
function documentsOf(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(fixture(name), 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
}

/** The message of the innermost cause of a failed workflow (ActivityFailure → ApplicationFailure …). */
async function innermostFailure(workflowId: string): Promise<string> {
  try {
    await temporal.client.workflow.getHandle(workflowId).result();
    return '(the workflow did not fail)';
  } catch (error) {
    let cause: unknown = error;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    return cause instanceof Error ? cause.message : String(cause);
  }
}

type RunOutput =
  RunSummary | { workflowId: string; status: string; failure: { type: string | null; message: string } };

async function runCase(c: Case, index: number): Promise<string[]> {
  const problems = await checkCase(c, index);
  if (!c.bug) return problems;
  bugs[c.bug].push(...problems);
  return [];
}

async function checkCase(c: Case, index: number): Promise<string[]> {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  const env = productEnv(emulator, temporal, `${temporal.taskQueue}-bad-${index}`, {
    DEVICES_FILE: fixture(c.devices ?? 'devices.json'),
    POLICIES_FILE: fixture(c.policies ?? 'policies.json'),
    ...(c.config ? readEnvFile(c.config) : {}),
  });
  let worker: InProcessWorker | undefined;
  const started = Date.now();
  const marks: number[] = [];
  let result: CliResult;
  try {
    // Configuration and usage errors never reach Temporal: no worker for them (their config would not load).
    if (c.exit !== 2 || c.bug) worker = await startInProcessWorker(temporal, env, { logLevel: 'INFO' });
    marks.push(Date.now());
    result = await runCli(['run', '--wait', '--json', ...(c.flags ?? [])], env, 120_000);
    marks.push(Date.now());
  } finally {
    await worker?.stop();
    if (worker) workerLogs.push(...worker.logs);
  }
  marks.push(Date.now());
  durations.push({
    name: c.name,
    ms: Date.now() - started,
    exit: result.code,
    phases: `worker ${marks[0]! - started} ms, cli ${marks[1]! - marks[0]!} ms, stop ${marks[2]! - marks[1]!} ms`,
  });
  outputs.push(`--- ${c.name}\n${result.stdout}\n${result.stderr}`);
  check(result.code === c.exit, `exit ${result.code}, expected ${c.exit}`);

  if (c.exit === 2) {
    for (const pattern of c.stderr ?? [])
      check(pattern.test(result.stderr), `stderr lacks ${String(pattern)}`);
    check(result.stdout.trim() === '', 'nothing on stdout for a usage or configuration error');
    return problems.map((p) => `${c.name}: ${p}\n${show(result)}`);
  }

  let out: RunOutput;
  try {
    out = JSON.parse(result.stdout) as RunOutput;
  } catch {
    return [`${c.name}: stdout is not one JSON document\n${show(result)}`];
  }
  if (c.runFailure) {
    check('failure' in out, 'the run should have failed as a whole');
    if ('failure' in out) {
      check(out.status === 'FAILED', `status ${out.status}`);
      // What the workflow failed with, innermost cause first: the loading error naming the file.
      const cause = await innermostFailure(out.workflowId);
      for (const pattern of c.runFailure) {
        check(pattern.test(cause), `the run's failure lacks ${String(pattern)}: ${cause}`);
        // What the user is shown: `run --wait --json` must say it too (see the second test).
        if (!pattern.test(out.failure.message))
          bugs['hidden-cause'].push(
            `${c.name}: stdout says ${JSON.stringify(out.failure)}; the cause was: ${cause}`,
          );
      }
      // Nothing written: the run never got to start a batch.
      const history = await temporal.client.workflow.getHandle(out.workflowId).fetchHistory();
      check(
        !(history.events ?? []).some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
        'a batch was started',
      );
    }
    return problems.map((p) => `${c.name}: ${p}\n${show(result)}`);
  }
  if (!('devicesTotal' in out)) return [`${c.name}: expected a run summary\n${show(result)}`];

  const synced = c.synced ?? {};
  const failed = c.failed ?? [];
  const summary = out;
  check(
    summary.devicesTotal === Object.keys(synced).length + failed.length,
    `devicesTotal ${summary.devicesTotal}, expected ${Object.keys(synced).length + failed.length}`,
  );
  check(
    summary.succeeded + summary.unchanged === Object.keys(synced).length,
    `succeeded ${summary.succeeded} + unchanged ${summary.unchanged}, expected ${Object.keys(synced).length}`,
  );
  check(
    isDeepStrictEqual(
      summary.failed.map((f) => ({ deviceId: f.deviceId, code: f.code })),
      failed,
    ),
    `failed ${JSON.stringify(summary.failed)}`,
  );
  for (const f of summary.failed) check(f.message.length > 0, `${f.deviceId} failed without a message`);
  const expected = c.rejected ?? [];
  check(
    summary.rejected.length === expected.length,
    `rejected ${summary.rejected.length}, expected ${expected.length}: ${JSON.stringify(summary.rejected)}`,
  );
  expected.forEach((e, i) => {
    const r = summary.rejected[i];
    check(
      r !== undefined && r.source.includes(e.source) && r.row === e.row && e.reason.test(r.reason),
      `rejected[${i}] ${JSON.stringify(r)} should be ${e.source} row ${e.row} ${String(e.reason)}`,
    );
  });
  // Valid rows synced: the emulator holds each one's document from this case's POLICIES_FILE.
  const documents = documentsOf(c.policies ?? 'policies.json');
  const state = emulator.state();
  for (const [deviceId, policy] of Object.entries(synced))
    check(
      isDeepStrictEqual(state.devices[deviceId]?.policy, documents[policy]),
      `${deviceId} does not hold policy '${policy}'`,
    );
  return problems.map((p) => `${c.name}: ${p}\n${show(result)}`);
}

void it(`${CASES.length} malformed inputs through policy-sync run --wait --json`, async () => {
  assert.ok(CASES.length >= 20);
  const started = Date.now();
  const problems: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CASES.length) {
        const index = next++;
        problems.push(...(await runCase(CASES[index]!, index)));
      }
    }),
  );
  // Nothing was written for a device the inventory did not accept: only ids some case synced were written.
  const syncedSomewhere = new Set(CASES.flatMap((c) => Object.keys(c.synced ?? {})));
  const state = emulator.state();
  const strays = Object.entries(state.devices)
    .filter(([id, d]) => d.writes > 0 && !syncedSomewhere.has(id))
    .map(([id]) => id);
  assert.deepEqual(strays, [], 'devices written that no case accepted');
  const scanner = new SecretScanner().addEmulator('bad-input', {
    clientSecret: emulator.env.AZURE_CLIENT_SECRET!,
    tokens: emulator.issuedTokens(),
  });
  const leaks = scanner.scan('CLI output and worker logs', [...outputs, ...workerLogs].join('\n'));
  assert.deepEqual(leaks, [], describeLeaks(leaks));

  report(
    'chaos bad-input',
    `${CASES.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s (${CONCURRENCY} at a time); ` +
      `exit codes ${JSON.stringify(durations.reduce<Record<string, number>>((m, d) => ({ ...m, [String(d.exit)]: (m[String(d.exit)] ?? 0) + 1 }), {}))}; ` +
      `slowest: ${[...durations]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 4)
        .map((d) => `${d.name} ${d.ms} ms (${d.phases})`)
        .join('; ')}`,
  );
  assert.deepEqual(problems, [], problems.join('\n\n'));
});

/**
 * Product bug (found by this suite): a run that fails while loading the inventory — a whole file unusable —
 * fails with an ActivityFailure ("Activity task failed") whose cause is the ApplicationFailure naming the
 * file. `policy-sync run --wait [--json]` reports only the outer failure: `{"type": null, "message":
 * "Activity task failed"}`, so the user never learns which file is wrong or why (the README promises "fails
 * loading with the file's name"). src/cli/sync-runs.ts syncOutcome() takes `error.cause` without unwrapping
 * ActivityFailure / ChildWorkflowFailure to the ApplicationFailure beneath.
 */
void it('run --wait --json names the file and the reason when a whole file is unusable', () => {
  assert.deepEqual(bugs['hidden-cause'], [], bugs['hidden-cause'].join('\n'));
});

/**
 * Product bug (found by this suite): `policy-sync run --max-concurrent-batches 20` passes the CLI's checks
 * (each flag is in its range), starts a sync, and the workflow fails it at once with InvalidInput
 * ("batchSize × maxConcurrentBatches must be at most 500"): exit 1 and a failed run in history, where
 * docs/interface.md promises exit 2 for bad usage, with nothing started. src/cli/run.ts should run
 * validateSyncInput (src/workflows/options.ts) on the input it built and throw a UsageError.
 */
void it('flags the workflow would refuse are a usage error (exit 2), not a failed sync', () => {
  assert.deepEqual(bugs['cli-input-validation'], [], bugs['cli-input-validation'].join('\n'));
});
