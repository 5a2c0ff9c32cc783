/**
 * What `schedule trigger` came to, from the schedule's description before and after: the server takes a
 * trigger asynchronously, and SKIP drops it silently, so the command looks instead of promising. Pure.
 */
import type { ScheduleDescription } from '@temporalio/client';

export type TriggerOutcome =
  | { result: 'started'; workflowId: string; running: string[] }
  | { result: 'skipped'; running: string[] }
  | { result: 'pending'; running: string[] };

type ScheduleInfo = Pick<
  ScheduleDescription['info'],
  'numActionsTaken' | 'numActionsSkippedOverlap' | 'recentActions' | 'runningActions'
>;

/** `running`: the schedule's own running syncs. `pending` until the counters move: a trigger buffered behind a running sync (BUFFER_ONE) stays there. */
export function triggerOutcome(before: ScheduleInfo, after: ScheduleInfo): TriggerOutcome {
  const running = after.runningActions.map((action) => action.workflow.workflowId);
  if (after.numActionsTaken > before.numActionsTaken) {
    const known = new Set(before.recentActions.map((action) => action.action.workflow.workflowId));
    const started = [...after.recentActions]
      .reverse()
      .find((action) => !known.has(action.action.workflow.workflowId));
    if (started) return { result: 'started', workflowId: started.action.workflow.workflowId, running };
  }
  if (after.numActionsSkippedOverlap > before.numActionsSkippedOverlap) return { result: 'skipped', running };
  return { result: 'pending', running };
}
