/**
 * Workflows of the orchestration probe (bench/probe/orchestration.ts): the same fan-out as the product (a
 * parent, children of 50 devices, a window of children), with the per-device work done three ways. Nothing
 * here talks to Azure: the "write" is a no-op activity, so what is measured is Temporal's own cost.
 */
import { executeChild, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';

export interface ProbeActivities {
  writeDevice(deviceId: string): Promise<void>;
  writeDevices(deviceIds: string[]): Promise<void>;
}

export type ProbeMode = 'activity-per-device' | 'local-activity-per-device' | 'activity-per-batch';

const remote = proxyActivities<ProbeActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<ProbeActivities>({ startToCloseTimeout: '1 minute' });

export async function probeBatchWorkflow(mode: ProbeMode, deviceIds: string[]): Promise<number> {
  if (mode === 'activity-per-batch') {
    await remote.writeDevices(deviceIds);
  } else {
    const write = mode === 'local-activity-per-device' ? local.writeDevice : remote.writeDevice;
    await Promise.all(deviceIds.map((id) => write(id)));
  }
  return deviceIds.length;
}

export async function probeParentWorkflow(
  mode: ProbeMode,
  devices: number,
  batchSize: number,
  window: number,
): Promise<number> {
  let next = 0;
  let done = 0;
  let batch = 0;
  const running = new Set<Promise<void>>();
  while (next < devices || running.size > 0) {
    while (next < devices && running.size < window) {
      const ids = Array.from({ length: Math.min(batchSize, devices - next) }, (_, i) => `device-${next + i}`);
      next += ids.length;
      const n = ++batch;
      const p: Promise<void> = executeChild(probeBatchWorkflow, {
        workflowId: `${workflowInfo().workflowId}/batch-${n}`,
        args: [mode, ids],
      }).then((count) => {
        done += count;
        running.delete(p);
      });
      running.add(p);
    }
    await Promise.race(running);
  }
  return done;
}
