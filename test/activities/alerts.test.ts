import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../../src/activities';
import { createAlertSender } from '../../src/activities/alerts';
import type { SendAlertInput } from '../../src/domain/activity-contract';
import { createLogger } from '../../src/logger';
import { FailureType } from '../../src/domain/failure-codes';
import { runActivity } from './activity-support';

const input: SendAlertInput = {
  hub: 'hub-1',
  workflowId: 'iot-policy-sync-hub-1-manual-1',
  alert: {
    id: 'a1',
    kind: 'AuthErrorRate',
    message: '35% of writes got 403',
    raisedAt: '2025-01-01T00:00:00.000Z',
    acknowledged: false,
  },
};

void describe('sendAlert', () => {
  const received: { body: unknown; contentType?: string }[] = [];
  let status = 204;
  let url: string;
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({
        body: JSON.parse(body),
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      });
      res.statusCode = status;
      res.end();
    });
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const activitiesWith = (webhookUrl: string | undefined, lines: string[]) => {
    const logger = createLogger({ format: 'json', write: (l) => lines.push(l) });
    // Only what sendAlert uses; the other dependencies are not touched.
    return createActivities({
      logger,
      alerts: createAlertSender({ logger, ...(webhookUrl ? { webhookUrl } : {}) }),
    } as unknown as ActivityDeps);
  };

  void it('always logs, and posts JSON to ALERT_WEBHOOK_URL when set', async () => {
    const lines: string[] = [];
    await runActivity(() => activitiesWith(undefined, lines).sendAlert(input));
    assert.equal(received.length, 0);
    await runActivity(() => activitiesWith(url, lines).sendAlert(input));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /ALERT AuthErrorRate: 35% of writes got 403/);
    assert.deepEqual(received[0]?.body, {
      source: 'iot-policy-sync',
      hub: 'hub-1',
      workflowId: input.workflowId,
      ...input.alert,
    });
    assert.equal(received[0]?.contentType, 'application/json');
  });

  void it('a refusing webhook is a retryable failure', async () => {
    status = 500;
    await assert.rejects(
      runActivity(() => activitiesWith(url, []).sendAlert(input)),
      (e: unknown) => {
        assert.ok(e instanceof ApplicationFailure, String(e));
        assert.equal(e.type, FailureType.Transient);
        assert.equal(e.nonRetryable, false);
        assert.match(e.message, /ALERT_WEBHOOK_URL answered 500/);
        return true;
      },
    );
  });
});
