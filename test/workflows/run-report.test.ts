import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authErrorRateMessage } from '../../src/workflows/alert-rules';
import {
  alertsValue,
  escapeMarkdown,
  metricsLines,
  outcomeMemo,
  progressMarkdown,
} from '../../src/workflows/run-report';
import type { AlertRecord, SyncMetrics } from '../../src/workflows/types';

const alert: AlertRecord = {
  id: 'auth-error-rate',
  kind: 'AuthErrorRate',
  message: authErrorRateMessage({ authErrors: 41, writeAttempts: 42 }, 0.1),
  raisedAt: '2026-01-01T00:00:05.000Z',
  acknowledged: false,
};

const metrics: SyncMetrics = {
  phase: 'syncing',
  devicesTotal: 300,
  devicesDone: 120,
  successCount: 100,
  unchangedCount: 17,
  driftedCount: 7,
  failureCount: 3,
  authErrors: 1272,
  writeAttempts: 1572,
  throttledCount: 0,
  retriedCount: 80,
  authErrorRate: 1272 / 1572,
  lastSuccessTime: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  alerts: [alert],
};

void describe('run report', () => {
  void it('names each figure with what it counts', () => {
    const lines = Object.fromEntries(metricsLines(metrics).map((line) => [line.label, line.value]));
    assert.equal(lines['devices done'], '120 / 300');
    assert.equal(lines['failed devices'], '3');
    assert.equal(lines['403 responses (all write attempts so far)'], '1272 in 1572 write attempts (80.9%)');
    assert.equal(lines['throttled responses (429, 503)'], '0');
    assert.equal(lines.alerts, '1 (1 open: AuthErrorRate)');
  });

  void it('says the alert figures are those when it was raised', () => {
    assert.match(alert.message, /97\.6% of the write attempts made when this alert was raised/);
    assert.match(alert.message, /41 403 responses in 42 attempts/);
  });

  void it('writes the current details as a headline and a list, one figure per item, alerts with kind and message', () => {
    const text = progressMarkdown(metrics, 'waiting for *role* propagation');
    const [head, list, alerts, note] = text.trimEnd().split('\n\n');
    assert.equal(head, '**Syncing: 120 of 300 devices done; 100 written, 17 already in sync, 3 failed.**');
    // A list, not a table: no cells to run together.
    assert.doesNotMatch(text, /^\|/m);
    for (const item of list?.split('\n') ?? []) assert.match(item, /^- [^*]+: \*\*[^*]+\*\*$/);
    assert.match(
      list ?? '',
      /^- 403 responses \(all write attempts so far\): \*\*1272 in 1572 write attempts \(80\.9%\)\*\*$/m,
    );
    assert.match(
      alerts ?? '',
      /^Alerts:\n- ⚠ AuthErrorRate \(open, id auth-error-rate, raised .*\): Authorization errors/,
    );
    assert.equal(note, 'waiting for \\*role\\* propagation');
  });

  void it('keeps the outcome and the open alerts in the memo', () => {
    const memo = outcomeMemo({ ...metrics, phase: 'done', devicesDone: 300 });
    assert.match(
      memo.outcome ?? '',
      /^Done: 300 of 300 devices done; .* 403 responses: 1272; throttled responses: 0\.$/,
    );
    assert.match(memo.alerts ?? '', /^AuthErrorRate: Authorization errors/);
    assert.equal(outcomeMemo({ ...metrics, alerts: [{ ...alert, acknowledged: true }] }).alerts, 'none open');
  });

  void it('counts alerts open and acknowledged', () => {
    assert.equal(alertsValue([]), 'none');
    assert.equal(alertsValue([{ ...alert, acknowledged: true }]), '1 (0 open)');
  });

  void it('escapes markup in messages', () => {
    assert.equal(escapeMarkdown('a|b *c* <d> [e](f) _g_'), 'a\\|b \\*c\\* \\<d\\> \\[e\\](f) \\_g\\_');
  });
});
