import assert from 'node:assert/strict';
import { it } from 'node:test';
import { progressTable } from '../../src/workflows/progress-table';
import { emptyCounters, toSyncMetrics } from '../../src/workflows/metrics';

void it('shows phase, counts and alerts as a markdown table', () => {
  const metrics = toSyncMetrics(
    {
      ...emptyCounters(),
      devicesTotal: 300,
      devicesDone: 120,
      successCount: 100,
      unchangedCount: 10,
      drifted: 7,
      failureCount: 10,
    },
    'syncing',
    null,
    [{ id: 'auth-error-rate', kind: 'AuthErrorRate', message: '', raisedAt: '', acknowledged: false }],
  );
  assert.equal(
    progressTable(metrics, 'note'),
    [
      '| phase | done / total | succeeded | unchanged | drifted | failed | 403s | 429s | alerts |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      '| syncing | 120 / 300 | 100 | 10 | 7 | 10 | 0 | 0 | 1 (1 open) |',
      '',
      'note',
    ].join('\n'),
  );
});
