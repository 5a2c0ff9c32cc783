/**
 * The orchestration probe: what one device costs Temporal on this machine, apart from any Azure I/O.
 *
 *   node --import tsx bench/probe/orchestration.ts [--devices 2000] [--window 4] [--modes a,b,c]
 *
 * For each mode (one activity per device — the product's design —, one local activity per device, one
 * activity per batch of 50) it runs the same parent/children fan-out over no-op writes on a fresh task queue
 * of one dev server, and reports wall time, devices/s and the CPU seconds of the worker and of the server.
 * Writes bench/results/probe.json and prints a markdown table.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startDevServer } from '../../src/devserver/dev-server';
import { cpuMsSince, processCpuMs } from '../process-stats';
import type { ProbeActivities, ProbeMode } from './workflows';

const MODES: ProbeMode[] = ['activity-per-device', 'local-activity-per-device', 'activity-per-batch'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '2000' },
      window: { type: 'string', default: '4' },
      modes: { type: 'string' },
      'max-activities': { type: 'string', default: '200' },
      out: { type: 'string', default: 'bench/results/probe.json' },
    },
  });
  const devices = Number(values.devices);
  const window = Number(values.window);
  const maxActivities = Number(values['max-activities']);
  const modes = (values.modes?.split(',') ?? MODES) as ProbeMode[];
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ ui: false });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const activities: ProbeActivities = {
    async writeDevice() {},
    async writeDevices() {},
  };
  const rows: Record<string, unknown>[] = [];
  try {
    for (const mode of modes) {
      const taskQueue = `probe-${randomUUID()}`;
      const worker = await Worker.create({
        connection: native,
        taskQueue,
        workflowsPath: require.resolve('./workflows'),
        activities,
        maxConcurrentActivityTaskExecutions: maxActivities,
      });
      const row = await worker.runUntil(async () => {
        const cpuAtStart = process.cpuUsage();
        const serverAtStart = processCpuMs(server.process.pid) ?? 0;
        const started = Date.now();
        const handle = await client.workflow.start('probeParentWorkflow', {
          taskQueue,
          workflowId: `probe-${mode}-${randomUUID()}`,
          args: [mode, devices, 50, window],
        });
        await handle.result();
        const wallMs = Date.now() - started;
        const serverCpuMs = (processCpuMs(server.process.pid) ?? 0) - serverAtStart;
        const workerCpuMs = cpuMsSince(cpuAtStart);
        return {
          mode,
          devices,
          window,
          wallMs,
          devicesPerSec: Math.round(devices / (wallMs / 1000)),
          workerCpuMsPerDevice: Number((workerCpuMs / devices).toFixed(2)),
          serverCpuMsPerDevice: Number((serverCpuMs / devices).toFixed(2)),
        };
      });
      process.stderr.write(`${JSON.stringify(row)}\n`);
      rows.push(row);
    }
  } finally {
    await native.close();
    await connection.close();
    await server.stop();
  }
  const out = resolve(__dirname, '..', '..', values.out);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ measuredAt: new Date().toISOString(), rows }, null, 2)}\n`);
  const lines = [
    '| mode | devices | window | wall (s) | devices/s | worker CPU ms/device | server CPU ms/device |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${String(r.mode)} | ${String(r.devices)} | ${String(r.window)} | ${((r.wallMs as number) / 1000).toFixed(1)} | ${String(r.devicesPerSec)} | ${String(r.workerCpuMsPerDevice)} | ${String(r.serverCpuMsPerDevice)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `probe failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
