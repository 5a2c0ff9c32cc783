/**
 * A sync as the world sees it: the phase in the PolicySyncPhase search attribute (and IotHub, if the starter
 * did not set it), the current details and the memo (run-report.ts), kept current. Workflow code.
 */
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import {
  patched,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { OUTCOME_MEMO_PATCH } from './options';
import { outcomeMemo, progressMarkdown } from './run-report';
import { visiblePhase } from './run-summary';
import { iotHubSearchAttribute, policySyncPhaseSearchAttribute } from './search-attributes';
import type { SyncMetrics, SyncPhase } from './types';

export class PhasePublisher {
  private published: string | undefined;

  constructor(private readonly hub: string) {
    this.published = workflowInfo().typedSearchAttributes.get(policySyncPhaseSearchAttribute);
  }

  /** Upserts the search attributes when `phase` is not the one published; whether it did. */
  publish(phase: SyncPhase): boolean {
    if (phase === this.published) return false;
    const updates: SearchAttributeUpdatePair[] = [{ key: policySyncPhaseSearchAttribute, value: phase }];
    if (workflowInfo().typedSearchAttributes.get(iotHubSearchAttribute) !== this.hub)
      updates.push({ key: iotHubSearchAttribute, value: this.hub });
    upsertSearchAttributes(updates);
    this.published = phase;
    return true;
  }
}

export interface SyncViewSource {
  hub: string;
  paused(): boolean;
  /** The sync's figures, shown with `phase`. */
  metrics(phase: SyncPhase): SyncMetrics;
}

/** The phase, the Temporal UI's current details and the memo of one sync. */
export class SyncView {
  /** A note under the figures (during preflight, the missing actions). */
  note: string | undefined;
  private readonly publisher: PhasePublisher;

  constructor(
    private phase: SyncPhase,
    private readonly source: SyncViewSource,
  ) {
    this.publisher = new PhasePublisher(source.hub);
  }

  setPhase(phase: SyncPhase): void {
    this.phase = phase;
    this.publish();
  }

  /** Publishes the visible phase (a paused sync shows as paused) and refreshes the details. */
  publish(): void {
    const changed = this.publisher.publish(visiblePhase(this.phase, this.source.paused()));
    this.refresh();
    if (changed) this.publishMemo();
  }

  refresh(): void {
    setCurrentDetails(progressMarkdown(this.metrics(), this.note));
  }

  /**
   * The outcome in words in the memo, on each phase change and alert (not on every device: each upsert is an
   * event). Runs started before the patch replay without these commands.
   */
  publishMemo(): void {
    if (patched(OUTCOME_MEMO_PATCH)) upsertMemo(outcomeMemo(this.metrics()));
  }

  metrics(): SyncMetrics {
    return this.source.metrics(visiblePhase(this.phase, this.source.paused()));
  }
}
