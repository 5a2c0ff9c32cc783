import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressView, type CommandContext } from '../../src/cli/output';
import type { AlertRecord, SyncMetrics } from '../../src/workflows/types';

function context(isTTY: boolean): { ctx: CommandContext; text: () => string } {
  const chunks: string[] = [];
  const stream = { isTTY, columns: 200, write: (chunk: string) => (chunks.push(chunk), true) };
  const ctx = { stdout: stream, stderr: stream, env: {}, signal: new AbortController().signal };
  return { ctx, text: () => chunks.join('') };
}

const alert: AlertRecord = {
  id: 'auth-error-rate',
  kind: 'AuthErrorRate',
  message: 'Authorization errors (403) in 97.6% of the write attempts made when this alert was raised',
  raisedAt: '2026-01-01T00:00:05.000Z',
  acknowledged: false,
};

const metrics = (alerts: AlertRecord[]): SyncMetrics => ({
  phase: 'syncing',
  devicesTotal: 300,
  devicesDone: 40,
  successCount: 40,
  unchangedCount: 0,
  driftedCount: 0,
  failureCount: 0,
  authErrors: 41,
  writeAttempts: 42,
  throttledCount: 0,
  retriedCount: 1,
  authErrorRate: 41 / 42,
  lastSuccessTime: null,
  startedAt: null,
  alerts,
});

void describe('progress view', () => {
  for (const isTTY of [false, true]) {
    void it(`tells an alert once, with kind and message, when it is raised (${isTTY ? 'bar' : 'lines'})`, () => {
      const { ctx, text } = context(isTTY);
      const view = new ProgressView(ctx, { lineEveryInMs: 0 });
      view.update(metrics([]));
      assert.doesNotMatch(text(), /AuthErrorRate/);
      view.update(metrics([alert]));
      view.update(metrics([alert]));
      view.stop();
      const told = text().match(
        /⚠ alert AuthErrorRate \(open, id auth-error-rate, raised [^)]+\): Authorization/g,
      );
      assert.equal(told?.length, 1, text());
    });
  }
});
