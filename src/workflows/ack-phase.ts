/**
 * The acknowledgement phase of a twin-target sync: after its last batch, the sync looks at the devices'
 * answers (assessCompliance, one bulk twin read each time) at growing intervals, with durable timers, until no
 * connected device holding our policy is still to answer or the deadline passes; then a final assessment with
 * the deadline passed (connected devices still silent are stale). A rerun arriving meanwhile interrupts the
 * wait: the sync goes back to writing and starts the phase again afterwards. Workflow code.
 */
import { condition, log, proxyActivities } from '@temporalio/workflow';
import type { AssessComplianceResult, PolicySyncActivities } from '../domain/activity-contract';
import { nextAckWait } from './ack-plan';
import { controlRetry } from './control-activities';

// One bulk read of the hub's twins: long for a large fleet (its queries are paced), so it heartbeats.
const { assessCompliance } = proxyActivities<PolicySyncActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: controlRetry,
});

export interface AckPhaseOptions {
  hub: string;
  snapshotId: string;
  deadlineInMs: number;
  /** True when the wait should end early (a rerun arrived). */
  interrupted: () => boolean;
  /** Hears every assessment, the final one with `final` true. */
  onAssessment: (result: AssessComplianceResult, final: boolean) => void;
}

/** The final assessment, or 'interrupted' when a rerun came first. */
export async function acknowledgementPhase(
  options: AckPhaseOptions,
): Promise<AssessComplianceResult | 'interrupted'> {
  const { hub, snapshotId, deadlineInMs } = options;
  const started = Date.now();
  let lastQueries = 0;
  for (let checks = 0; ; checks++) {
    const wait = nextAckWait({ checks, lastQueries, elapsedInMs: Date.now() - started, deadlineInMs });
    if (wait === undefined) break;
    if (await condition(options.interrupted, wait)) return 'interrupted';
    // Only the final assessment lists the devices that refused: the looks before it need the counts.
    const result = await assessCompliance({
      hub,
      target: 'twin',
      snapshotId,
      deadlinePassed: false,
      listLimit: 0,
    });
    options.onAssessment(result, false);
    log.info('Device acknowledgements', { ...result.counts, awaiting: result.pendingCount });
    if (result.pendingCount === 0) break;
    lastQueries = result.queries;
  }
  if (options.interrupted()) return 'interrupted';
  const final = await assessCompliance({ hub, target: 'twin', snapshotId, deadlinePassed: true });
  options.onAssessment(final, true);
  return final;
}
