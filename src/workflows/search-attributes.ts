/** Typed search attributes of policySyncWorkflow (registered on the dev server by src/devserver). */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The IoT Hub a sync writes to; set by whoever starts the workflow, and by the workflow if missing. */
export const iotHubSearchAttribute = defineSearchAttributeKey('IotHub', SearchAttributeType.KEYWORD);

/** The sync's current phase (SyncPhase), kept current by the workflow. */
export const policySyncPhaseSearchAttribute = defineSearchAttributeKey(
  'PolicySyncPhase',
  SearchAttributeType.KEYWORD,
);
