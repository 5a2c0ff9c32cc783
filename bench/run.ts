/**
 * `npm run bench`: the seed's script and our Temporal sync, side by side, against the same emulated world.
 *
 * One Temporal dev server for the whole run. Per cell (profile × fleet) one emulator; before each side the
 * emulator is reset (fresh devices, request counts and propagation clock, same seed), the side's process is
 * already loaded and waiting, and the clock starts with its `go`. Each side runs in a child process of its
 * own (the seed script; our worker; bench/sides.ts) so its peak memory is its own. Results go to
 * bench/results/latest.* after every cell, so an interrupted run keeps what it measured. --reconcile, --ack
 * and --storms are other runs on the same dev server (bench/reconcile.ts, bench/ack.ts, bench/storms.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../src/devserver/dev-server';
import { startEmulator, type FaultOverrides } from '../src/emulator';
import { benchMatrix, parseBenchArgs, UsageError, type BenchArgs } from './args';
import type { BenchReport, CellResult, SideResult } from './metrics';
import { machineDescription } from './process-stats';
import {
  failedSide,
  readInventory,
  runBaseline,
  runWorkerSide,
  waitForLoad,
  type BenchTemporal,
} from './sides';
import { runStorms } from './storms';
import { runAck } from './ack';
import { runReconcile, type ReconcileTemporal } from './reconcile';
import { checkTargets, renderMarkdown, renderSvg } from './report';

const ROOT = resolve(__dirname, '..');

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function writeResults(report: BenchReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  report.targets = checkTargets(report.cells);
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(report));
  writeFileSync(join(outDir, 'latest.svg'), renderSvg(report));
}

function summaryLine(cell: CellResult): string {
  const part = (s: SideResult | undefined) =>
    s
      ? s.error
        ? `${s.side} ERROR ${s.error}`
        : `${s.side} ${(s.wallMs / 1000).toFixed(1)} s, ${s.inSync}/${s.devices} in sync, 403=${s.requestsByStatus['403'] ?? 0} 429=${s.requestsByStatus['429'] ?? 0}`
      : '';
  return [part(cell.baseline), part(cell.ours)].filter(Boolean).join(' | ');
}

/** The command as typed, an absolute path written relative to this checkout (results name no machine path). */
function commandLine(): string {
  const args = process.argv.slice(2).map((arg) => (isAbsolute(arg) ? relative(ROOT, arg) || '.' : arg));
  return ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
}

/** One dev server and one workflow bundle for a whole run. */
async function withTemporal<T>(
  body: (temporal: ReconcileTemporal & BenchTemporal) => Promise<T>,
): Promise<T> {
  const tmpDir = join(ROOT, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const server = await startDevServer({ ui: false });
  log(`Temporal dev server at ${server.address}`);
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const bundlePath = join(tmpDir, `workflow-bundle-${process.pid}.js`);
    writeFileSync(bundlePath, code);
    const connection = await Connection.connect({ address: server.address });
    try {
      return await body({
        client: new Client({ connection, namespace: 'default' }),
        address: server.address,
        bundlePath,
        serverPid: server.process.pid,
      });
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if ([args.reconcile, args.ack, args.storms].filter(Boolean).length > 1) {
    process.stderr.write('--reconcile, --ack and --storms are different runs: pick one\n');
    process.exit(2);
  }
  if (args.storms) {
    await withTemporal((temporal) => runStorms(temporal, args, commandLine()));
    return;
  }
  if (args.ack) {
    await withTemporal((temporal) =>
      runAck(temporal, {
        fleets: args.fleets.length ? args.fleets : [300, 1_000],
        seed: args.seed,
        outDir: args.outDir,
        command: commandLine(),
      }),
    );
    return;
  }
  if (args.reconcile) {
    await withTemporal((temporal) =>
      runReconcile(temporal, {
        fleets: args.fleets.length ? args.fleets : [1_000],
        seed: args.seed,
        outDir: args.outDir,
        command: commandLine(),
        ...(args.workerActivities ? { workerActivities: args.workerActivities } : {}),
      }),
    );
    return;
  }
  await withTemporal((temporal) => runMatrix(temporal, args));
}

/** The profile × fleet matrix: both sides per cell, bench/results/latest.*. */
async function runMatrix(temporal: ReconcileTemporal & BenchTemporal, args: BenchArgs): Promise<void> {
  const { cells, note } = benchMatrix(args);
  log(note);
  log(`cells: ${cells.map((c) => `${c.profile}×${c.fleet}`).join(', ')}; sides: ${args.sides.join(', ')}`);
  const outDir = resolve(ROOT, args.outDir);
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: commandLine(),
    machine: { ...machineDescription(), platform: `${process.platform}-${process.arch}` },
    matrixNote: note,
    settings: {
      emulatorSeed: args.seed,
      emulatorFaults: args.faults,
      oursInput: args.oursInput,
      workerMaxConcurrentActivities: args.workerActivities ?? null,
      workerOptions: args.workerOptions,
      noopWrites: args.noopWrites,
      baselineTokenReset: args.baselineTokenReset,
    },
    cells: [],
    targets: [],
  };

  for (const cell of cells) {
    log(`cell ${cell.profile} × ${cell.fleet}: starting the emulator`);
    const emulator = await startEmulator({
      port: 0,
      devices: cell.fleet,
      profile: cell.profile,
      seed: args.seed,
      faults: args.faults as FaultOverrides,
    });
    const result: CellResult = { profile: cell.profile, fleet: cell.fleet };
    try {
      const inventory = readInventory(emulator.env);
      for (const side of args.sides) {
        if (args.maxLoad !== undefined) await waitForLoad(args.maxLoad);
        log(`cell ${cell.profile} × ${cell.fleet}: ${side}`);
        const sideCell = { fleet: cell.fleet, slug: `${cell.profile}-${cell.fleet}` };
        try {
          result[side] =
            side === 'baseline'
              ? await runBaseline(emulator, sideCell, inventory, args, temporal.serverPid)
              : await runWorkerSide(emulator, sideCell, inventory, args, temporal, {
                  side: 'ours',
                  root: ROOT,
                  bundlePath: temporal.bundlePath,
                });
        } catch (error) {
          log(`cell ${cell.profile} × ${cell.fleet}: ${side} failed: ${String(error)}`);
          result[side] = failedSide(side, cell.fleet, error);
        }
      }
    } finally {
      await emulator.close();
    }
    log(`cell ${cell.profile} × ${cell.fleet}: ${summaryLine(result)}`);
    report.cells.push(result);
    report.finishedAt = new Date().toISOString();
    writeResults(report, outDir);
  }
  report.finishedAt = new Date().toISOString();
  writeResults(report, outDir);
  process.stdout.write(renderMarkdown(report));
  log(`wrote ${join(args.outDir, 'latest.json')}, latest.md and latest.svg`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
