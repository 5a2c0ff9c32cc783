/**
 * Alerts whose webhook refuses (500), hangs or redirects (302): the real sendAlert activity against a local
 * HTTP webhook, in a real sync. Each alert's delivery state is in the summary, the cause is the webhook's
 * answer (not "Activity task failed"), the ALERT line is logged once, and a hanging webhook does not hold the
 * end of the sync beyond ALERT_WAIT_AT_END_MS.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createActivities, type ActivityDeps } from '../../src/activities';
import { createAlertSender } from '../../src/activities/alerts';
import { createLogger } from '../../src/logger';
import type { policySyncWorkflow } from '../../src/workflows';
import { ALERT_WAIT_AT_END_MS } from '../../src/workflows/options';
import { iotHubSearchAttribute } from '../../src/workflows/search-attributes';
import type { PolicySyncInput } from '../../src/workflows/types';
import { connectTestTemporal, createTestWorker, type TestTemporal } from '../support/temporal';
import { deviceIds, FakeAzure } from './fake-azure';

const HUB = 'hub-alerts';
const TOKEN = 'webhook-token-s3cr3t';
let env: TestTemporal;
let mode: 'fail' | 'hang' | 'redirect' = 'fail';
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (mode === 'hang') return; // never answers
    if (mode === 'redirect') {
      res.writeHead(302, { location: `http://elsewhere.example:8080/collect?token=${TOKEN}` });
      res.end();
      return;
    }
    res.statusCode = 500;
    res.end();
  });
});
let webhookUrl: string;

before(async () => {
  env = await connectTestTemporal();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=${TOKEN}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await env?.close();
});

async function syncWithWebhook(webhookMode: typeof mode) {
  mode = webhookMode;
  const lines: string[] = [];
  const logger = createLogger({ format: 'json', write: (line) => lines.push(line) });
  const fake = new FakeAzure(deviceIds(20));
  // Every write needed a retry after a 403: the auth error rate alert is raised.
  fake.behavior = ({ deviceId }, f) => f.succeed(deviceId, 2, { authErrors: 1 });
  const real = createActivities({
    logger,
    alerts: createAlertSender({ logger, webhookUrl, timeoutInMs: 2_000 }),
  } as unknown as ActivityDeps);
  const taskQueue = `${env.taskQueue}-alerts-${webhookMode}`;
  const worker = await createTestWorker(env, {
    taskQueue,
    activities: { ...fake.activities(), sendAlert: real.sendAlert },
  });
  const summary = await worker.runUntil(
    env.client.workflow.execute<typeof policySyncWorkflow>('policySyncWorkflow', {
      taskQueue,
      workflowId: `iot-policy-sync-${HUB}-manual-${randomUUID()}`,
      args: [
        {
          hub: HUB,
          target: 'arm',
          alerts: { minAttempts: 10, authErrorRateThreshold: 0.1 },
        } satisfies PolicySyncInput,
      ],
      typedSearchAttributes: [{ key: iotHubSearchAttribute, value: HUB }],
      workflowExecutionTimeout: '3 minutes',
    }),
  );
  return { summary, lines };
}

void describe('alert delivery', () => {
  void it('a webhook answering 500: failed, with the cause, the ALERT line logged once', async () => {
    const { summary, lines } = await syncWithWebhook('fail');
    assert.equal(summary.alerts.length, 1);
    const delivery = summary.alerts[0]!.delivery;
    assert.equal(delivery?.state, 'failed', JSON.stringify(summary.alerts));
    assert.match(delivery?.error ?? '', /ALERT_WEBHOOK_URL answered 500/);
    assert.equal(lines.filter((line) => line.includes('ALERT AuthErrorRate')).length, 1, lines.join('\n'));
    assert.ok(!JSON.stringify(summary).includes(TOKEN));
  });

  void it('a webhook redirecting: refused at once, naming only the origin', async () => {
    const { summary } = await syncWithWebhook('redirect');
    const delivery = summary.alerts[0]!.delivery;
    assert.equal(delivery?.state, 'failed', JSON.stringify(summary.alerts));
    assert.match(
      delivery?.error ?? '',
      /answered 302 redirect to http:\/\/elsewhere\.example:8080; .*set ALERT_WEBHOOK_URL to the final URL/,
    );
    assert.ok(!JSON.stringify(summary).includes(TOKEN));
  });

  void it('a webhook that hangs does not hold the end of the sync; the alert is recorded as pending', async () => {
    const { summary } = await syncWithWebhook('hang');
    const delivery = summary.alerts[0]!.delivery;
    assert.ok(delivery?.state === 'pending' || delivery?.state === 'failed', JSON.stringify(summary.alerts));
    if (delivery?.state === 'pending') assert.match(delivery.error ?? '', /had not answered/);
    // Generous: the sync itself takes a second or two; the end waits at most ALERT_WAIT_AT_END_MS more.
    assert.ok(
      summary.durationMs < ALERT_WAIT_AT_END_MS + 20_000,
      `the sync took ${summary.durationMs} ms with a hanging webhook`,
    );
  });
});
