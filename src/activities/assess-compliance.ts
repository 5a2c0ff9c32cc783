/**
 * The assessCompliance activity's work: one fresh bulk read of the hub's twins (never a cached observation),
 * every device of the inventory snapshot classified by its answer to our policy (domain/compliance-assessment),
 * the compliance gauge set. Thin I/O around the pure tally.
 */
import { isObservationUnsupportedError, type ObservedDevice } from '../azure/observation';
import { jsonEqual, type PolicyDocument } from '../azure/policy-writer';
import type { AssessComplianceInput, AssessComplianceResult } from '../domain/activity-contract';
import { ComplianceTally } from '../domain/compliance-assessment';
import type { InventoryAccess, TwinObservationAccess } from './activity-deps';

/** Refusals and failures an assessment lists by default; the rest are counted. */
export const MAX_LISTED_ANSWER_FAILURES = 1000;

export interface AssessComplianceOptions {
  inventory: InventoryAccess;
  twins: TwinObservationAccess;
  abortSignal?: AbortSignal;
  /** Called every few hundred devices, so that a long read keeps its activity alive. */
  heartbeat?: () => void;
  now?: () => number;
  /** Told once when the hub cannot run the query and each device is read on its own. */
  onFallback?: (message: string) => void;
}

export async function assessFleetCompliance(
  input: AssessComplianceInput,
  options: AssessComplianceOptions,
): Promise<AssessComplianceResult> {
  const { inventory, twins, abortSignal } = options;
  const snapshot = await inventory.get(input.snapshotId, abortSignal);
  const documents = new Map<string, PolicyDocument>();
  const documentFor = async (policy: string): Promise<PolicyDocument> => {
    let document = documents.get(policy);
    if (!document) {
      document = await inventory.policyDocument(input.snapshotId, policy, abortSignal);
      documents.set(policy, document);
    }
    return document;
  };
  const tally = new ComplianceTally(input.deadlinePassed, input.listLimit ?? MAX_LISTED_ANSWER_FAILURES);
  const seen = new Set<string>();
  let queries = 0;
  const classify = async (device: ObservedDevice): Promise<void> => {
    const position = snapshot.index.get(device.deviceId);
    const assignment = position === undefined ? undefined : snapshot.devices[position];
    if (!assignment || seen.has(device.deviceId)) return;
    seen.add(device.deviceId);
    const ours = await documentFor(assignment.policy);
    tally.add({
      deviceId: device.deviceId,
      holdsOurDocument: device.document !== null && jsonEqual(device.document, ours),
      ...(device.policyVersion === undefined ? {} : { policyVersion: device.policyVersion }),
      ...(device.desiredVersion === undefined ? {} : { desiredVersion: device.desiredVersion }),
      reported: device.reported,
      ...(device.connectionState === undefined ? {} : { connectionState: device.connectionState }),
    });
    if (seen.size % 500 === 0) options.heartbeat?.();
  };
  try {
    for await (const device of twins.observeAll(() => queries++, abortSignal)) await classify(device);
  } catch (error) {
    if (!isObservationUnsupportedError(error)) throw error;
    options.onFallback?.(
      `${error.message} Reading ${snapshot.devices.length} device twins one by one to assess compliance.`,
    );
    for (const { deviceId } of snapshot.devices) {
      if (seen.has(deviceId)) continue;
      const device = await twins.observeOne(deviceId, abortSignal);
      if (device !== 'notInHub') await classify(device);
    }
  }
  return {
    counts: tally.counts,
    rejected: tally.failures,
    notListed: tally.notListed,
    pendingCount: tally.awaitingAnswer,
    notInHub: snapshot.devices.length - seen.size,
    queries,
    observedAt: new Date((options.now ?? Date.now)()).toISOString(),
  };
}
