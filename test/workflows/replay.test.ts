/**
 * Replays every recorded history in test/fixtures/histories against today's workflow code: a change that
 * would break running workflows (a non-deterministic change) fails here.
 * Record fresh fixtures with `RECORD_HISTORY_FIXTURES=1` (see test/support/temporal.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { HISTORY_FIXTURES_DIR, sharedWorkflowSource } from '../support/temporal';

const fixtures = readdirSync(HISTORY_FIXTURES_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort();

void it('has recorded histories of a rerun with pause/resume, a preflight wait, continue-as-new and both batch designs', () => {
  for (const name of [
    // Recorded by the first release (before the local-first-attempt, coalesced-progress-signals,
    // sync-defaults-v2 and live-retrying-tally patches): runs it started must still replay.
    'v1-policy-batch.json',
    'v1-policy-sync-pause-resume-rerun.json',
    'v1-policy-sync-default-window-300.json',
    'policy-batch-local-first.json',
    'policy-sync-default-window-300.json',
    'policy-sync-pause-resume-rerun.json',
    'policy-sync-preflight-waited.json',
    'policy-sync-can-run-1.json',
    'policy-sync-can-run-2.json',
    'policy-batch.json',
    // Recorded with the alert-delivery-budget patch: bounded sendAlert, the bounded wait at the end.
    'policy-sync-alert-fail.json',
    'policy-sync-alert-hang.json',
    'policy-sync-permissions-not-propagated-alert-budget.json',
    // Recorded with the sync-defaults-v3 patch: the preflight's waits a quarter longer each time.
    'policy-sync-preflight-waited-v3.json',
    // Recorded with the gate-held-devices-grouped and final-outcomes-in-result patches.
    'policy-batch-gate-held-grouped.json',
    'policy-batch-gate-held-group-lost.json',
  ])
    assert.ok(fixtures.includes(name), `${name} in ${HISTORY_FIXTURES_DIR}`);
});

void it('replays every recorded history without a determinism error', { timeout: 120_000 }, async () => {
  const histories = fixtures.map((name) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORY_FIXTURES_DIR, name), 'utf8')));
    return { workflowId: recordedWorkflowId(history) ?? name.replace(/\.json$/, ''), history };
  });
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(await sharedWorkflowSource(), histories)) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.equal(replayed, histories.length);
  assert.deepEqual(failures, []);
});

/**
 * A history does not name its own workflow id, but the parent's child ids (`{parentId}/batch-{n}`) derive from
 * it, and replay must reproduce them: read it back from the first child started.
 */
function recordedWorkflowId(history: temporal.api.history.v1.IHistory): string | undefined {
  for (const event of history.events ?? []) {
    const childId = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    if (childId) return childId.replace(/\/batch-\d+$/, '');
  }
  return undefined;
}
