/**
 * `npm test` and `npm run test:chaos`: one real Temporal dev server (with UI) and one workflow bundle for
 * the whole run, then node's test runner over the test files, which find both through
 * TEMPORAL_TEST_ADDRESS, TEMPORAL_TEST_UI_URL and TEST_WORKFLOW_BUNDLE. A file run alone starts its own.
 *
 * Usage: node --import tsx test/run-tests.ts [--suite unit|chaos] [file ...]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../src/devserver/dev-server';

const SUITES = { unit: 'test/**/*.test.ts', chaos: 'test/**/*.chaos.ts' } as const;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { suite: { type: 'string', default: 'unit' } },
    allowPositionals: true,
  });
  const suite = values.suite as keyof typeof SUITES;
  if (!(suite in SUITES)) {
    process.stderr.write(`--suite must be one of ${Object.keys(SUITES).join(', ')}\n`);
    return 2;
  }
  const started = Date.now();
  const server = await startDevServer({ ui: true });
  const dir = mkdtempSync(join(tmpdir(), 'iot-policy-sync-tests-'));
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const bundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, code);
    process.stderr.write(
      `[tests] Temporal dev server ${server.address}, UI ${server.uiUrl}; workflow bundle in ${Date.now() - started} ms\n`,
    );
    const files = positionals.length > 0 ? positionals : [SUITES[suite]];
    const args = [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      '--test-timeout=900000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      ...files,
    ];
    const child = spawn(process.execPath, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        TEMPORAL_TEST_ADDRESS: server.address,
        TEMPORAL_TEST_UI_URL: server.uiUrl ?? '',
        TEST_WORKFLOW_BUNDLE: bundlePath,
      },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    const exitCode = await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
    process.stderr.write(`[tests] finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return exitCode;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
