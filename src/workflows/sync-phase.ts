/**
 * The phase of a sync as the world sees it: the PolicySyncPhase search attribute (and IotHub, if the starter
 * did not set it), kept current. Workflow code.
 */
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { iotHubSearchAttribute, policySyncPhaseSearchAttribute } from './search-attributes';
import type { SyncPhase } from './types';

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
