/**
 * One Temporal dev server for the whole `npm test` run (node --test-global-setup). Test files run in
 * child processes and find it through TEMPORAL_TEST_ADDRESS; the workflow bundle is built once and
 * shared through TEST_WORKFLOW_BUNDLE.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';

let server: DevServer | undefined;

export async function globalSetup(): Promise<void> {
  const started = Date.now();
  server = await startDevServer({ ui: true });
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
  process.env.TEMPORAL_TEST_UI_URL = server.uiUrl ?? '';
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const dir = mkdtempSync(join(tmpdir(), 'iot-policy-sync-bundle-'));
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
  process.stderr.write(
    `[global-setup] Temporal dev server at ${server.address} (UI ${server.uiUrl}), bundle ready in ${Date.now() - started} ms\n`,
  );
}

export async function globalTeardown(): Promise<void> {
  await server?.stop();
}
