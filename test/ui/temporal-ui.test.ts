/**
 * The Temporal UI in a real browser (headless Chromium through playwright-core): a finished sync is found
 * by its IotHub search attribute in the workflows list, and its page shows the current details (the
 * progress table the workflow keeps) and the result. The screenshots are kept under test-results/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { syncInput, startManualSync } from '../../src/cli/sync-runs';
import { loadConfig } from '../../src/config';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { startEmulator, type Emulator } from '../../src/emulator';
import { silentLogger } from '../../src/logger';
import { createPolicySyncWorker, type PolicySyncWorker } from '../../src/worker';
import type { RunSummary } from '../../src/workflows/types';
import { connectTestTemporal, type TestTemporal } from '../support/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = join(__dirname, '..', '..', 'test-results');
const HUB = 'hub-emulated';

let ownServer: DevServer | undefined;
let uiUrl: string;
let temporal: TestTemporal;
let emulator: Emulator;
let worker: PolicySyncWorker;
let workerRun: Promise<void>;
let browser: Browser;

before(async () => {
  if (process.env.TEMPORAL_TEST_ADDRESS && process.env.TEMPORAL_TEST_UI_URL) {
    uiUrl = process.env.TEMPORAL_TEST_UI_URL;
  } else {
    // Run on its own: a dev server with its UI for this file.
    ownServer = await startDevServer({ ui: true });
    process.env.TEMPORAL_TEST_ADDRESS = ownServer.address;
    uiUrl = ownServer.uiUrl!;
  }
  temporal = await connectTestTemporal();
  emulator = await startEmulator({ devices: 20, profile: 'calm' });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), emulator.caPem]);
  const config = loadConfig({
    ...emulator.env,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: temporal.taskQueue,
  });
  // The worker stays up during the browser visit: the UI asks it (by query) for the current details.
  worker = await createPolicySyncWorker(config, {
    connection: temporal.nativeConnection,
    logger: silentLogger,
    ...(process.env.TEST_WORKFLOW_BUNDLE ? { workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE } : {}),
  });
  workerRun = worker.run();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  mkdirSync(RESULTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  worker?.shutdown();
  await workerRun;
  await emulator?.close();
  await temporal?.close();
  await ownServer?.stop();
});

describe('Temporal UI', () => {
  it('finds a finished sync by IotHub and shows its current details and result', async () => {
    const config = loadConfig({
      ...emulator.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: temporal.taskQueue,
    });
    const handle = await startManualSync(temporal.client, config, syncInput(config));
    const summary: RunSummary = await handle.result();
    assert.equal(summary.succeeded + summary.unchanged, 20);
    const workflowId = handle.workflowId;
    const { memo } = await handle.describe();
    assert.match(String(memo?.outcome), /^Done: 20 of 20 devices done; .* 0 failed\. 403 responses: 0;/);
    assert.equal(memo?.alerts, 'none open');

    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    try {
      const query = `IotHub="${HUB}" AND ExecutionStatus="Completed"`;
      const listUrl = `${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
      // Visibility is eventually consistent: reload until the list shows our run.
      const link = page
        .locator(`a[href*="${encodeURIComponent(workflowId)}"], a:has-text("${workflowId}")`)
        .first();
      const deadline = Date.now() + 60_000;
      for (;;) {
        await page.goto(listUrl, { waitUntil: 'domcontentloaded' });
        try {
          await link.waitFor({ state: 'visible', timeout: 5_000 });
          break;
        } catch (error) {
          if (Date.now() > deadline) {
            await page.screenshot({ path: join(RESULTS, 'temporal-ui-list-missing.png'), fullPage: true });
            throw error;
          }
        }
      }
      await page.screenshot({ path: join(RESULTS, 'temporal-ui-workflows-by-iothub.png'), fullPage: true });
      const listText = await page.locator('body').innerText();
      assert.match(listText, /policySyncWorkflow/);
      assert.match(
        listText,
        /policyBatchWorkflow/,
        'the batches carry IotHub and are listed with their sync',
      );

      await link.click();
      await page.waitForURL(/\/workflows\/[^/]+\/[^/]+/, { timeout: 30_000 });
      page.setDefaultTimeout(30_000);
      await page.getByText('Completed').first().waitFor();
      // The result: the run summary.
      await page.getByText('"succeeded": 20', { exact: false }).first().waitFor();
      // The current details (the progress table the workflow keeps, answered by the worker) and the
      // static summary are under the User Metadata tab.
      await page.getByText('User Metadata', { exact: true }).first().click();
      // The UI renders markdown details in a sandboxed iframe: read every frame.
      const framesText = async () =>
        (
          await Promise.all(
            page.frames().map((f) =>
              f
                .locator('body')
                .innerText()
                .catch(() => ''),
            ),
          )
        ).join('\n');
      const detailsDeadline = Date.now() + 30_000;
      while (!/devices done/.test(await framesText()) && Date.now() < detailsDeadline)
        await page.waitForTimeout(500);
      await page.screenshot({ path: join(RESULTS, 'temporal-ui-sync.png'), fullPage: true });
      const text = await framesText();
      assert.ok(text.includes(workflowId), 'the page names the workflow');
      assert.match(text, /Policy sync of hub hub-emulated \(manual\)/, 'the static summary');
      assert.match(
        text,
        /Writes the security policy of each inventory device to IoT Hub hub-emulated/,
        'the static details',
      );
      // The current details, in words: the headline and one "label: value" per line (nothing run together).
      assert.match(text, /Done: 20 of 20 devices done; \d+ written, \d+ already in sync, 0 failed\./);
      for (const line of [
        /^phase: done$/m,
        /^devices done: 20 \/ 20$/m,
        /^failed devices: 0$/m,
        /^403 responses \(all write attempts so far\): 0 in \d+ write attempts \(0\.0%\)$/m,
        /^throttled responses \(429, 503\): 0$/m,
        /^alerts: none$/m,
      ])
        assert.match(text, line, `the current details show ${line}`);
      assert.doesNotMatch(text, /No details available/, 'the details are shown');
    } catch (error) {
      await page
        .screenshot({ path: join(RESULTS, 'temporal-ui-failure.png'), fullPage: true })
        .catch(() => undefined);
      process.stderr.write(
        `page text:\n${await page
          .locator('body')
          .innerText()
          .catch(() => '')}\n`,
      );
      throw error;
    } finally {
      await page.close();
    }
  });
});
