/**
 * What the parent's main loop does next, decided from its state alone: the loop waits on this turning from
 * 'wait' to anything else (a condition over state), so no state change has to remember to wake it. Pure.
 */

export type SyncStep =
  'rerun' | 'abort' | 'read' | 'batch' | 'failAborted' | 'drainAlerts' | 'done' | 'continueAsNew' | 'wait';

export interface SyncLoopFacts {
  rerunsPending: boolean;
  aborted: boolean;
  /** More devices finally failed with AuthorizationFailed than alerts.abortAfterAuthFailures. */
  abortThresholdExceeded: boolean;
  paused: boolean;
  runningBatches: number;
  maxConcurrentBatches: number;
  /** The backlog has devices not batched yet. */
  pending: boolean;
  /** A batch cannot be filled without reading the next inventory page. */
  needsPage: boolean;
  /** The history is past continueAsNewAfterEvents, or the server suggests continue-as-new. */
  historyIsLarge: boolean;
  /** Alert deliveries not finished yet. */
  deliveriesInFlight: boolean;
  /** No signal or update handler running. */
  handlersFinished: boolean;
}

/**
 * Reruns first; abort once the threshold is passed; start batches while the window has room (reading a page
 * when the buffer is short) unless the history is large; with no batch running: fail what an abort left, wait
 * for the last alert deliveries (drainAlerts: the loop bounds that wait), end when nothing is pending, or
 * continue as new when the history is large.
 */
export function nextStep(facts: SyncLoopFacts): SyncStep {
  if (facts.rerunsPending) return 'rerun';
  if (!facts.aborted && facts.abortThresholdExceeded) return 'abort';
  const mayStartBatch =
    !facts.aborted && !facts.paused && facts.runningBatches < facts.maxConcurrentBatches && facts.pending;
  if (mayStartBatch && !facts.historyIsLarge) return facts.needsPage ? 'read' : 'batch';
  if (facts.runningBatches > 0) return 'wait';
  if (facts.aborted && facts.pending) return 'failAborted';
  if (!facts.pending && facts.handlersFinished && facts.deliveriesInFlight) return 'drainAlerts';
  const settled = !facts.deliveriesInFlight && facts.handlersFinished;
  if (settled && !facts.pending) return 'done';
  return settled && facts.historyIsLarge ? 'continueAsNew' : 'wait';
}
