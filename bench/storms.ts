/**
 * `npm run bench -- --storms`: the propagation-storm sweep. Per cell (bench/storm-cells.ts) one emulator with
 * the cell's faults; per side (baseline, before, ours) the emulator is reset, which also re-creates the grant
 * and so restarts its propagation clock, and the side runs against it (bench/sides.ts). `before` is our
 * worker from another checkout (--before DIR), with that checkout's own workflow bundle, on a task queue of
 * its own. Results go to storms.{json,md,svg} after every cell.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { resolveFaultSettings, startEmulator, type FaultOverrides } from '../src/emulator';
import type { BenchArgs } from './args';
import { machineDescription } from './process-stats';
import {
  failedSide,
  readInventory,
  runBaseline,
  runWorkerSide,
  waitForLoad,
  type BenchTemporal,
  type WorkerSource,
} from './sides';
import { mergeOverrides, stormCells, stormLimit, type BenchCell } from './storm-cells';
import {
  judgeStorms,
  renderStormMarkdown,
  renderStormSvg,
  summaryLines,
  type StormCellResult,
  type StormReport,
} from './storm-report';
import type { SideResult } from './metrics';

const ROOT = resolve(__dirname, '..');
/** A storm fleet when --fleets does not say. */
const DEFAULT_STORM_FLEET = 300;

function log(message: string): void {
  process.stderr.write(`[bench storms ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Thrown when --before names something that is not a usable checkout. */
export class BeforeCheckoutError extends Error {
  override readonly name = 'BeforeCheckoutError';
  readonly code = 'BEFORE_CHECKOUT_UNUSABLE';
}

/** The checkout's commit, `+dirty` when it has uncommitted changes; `unknown` outside git. */
function commitOf(dir: string): string {
  try {
    const head = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * Bundles the other checkout's workflows with that checkout's own @temporalio/worker (a node process run
 * there), so the bundle matches the worker that loads it.
 */
async function bundleBefore(dir: string, outFile: string): Promise<void> {
  const missing = [
    'bench/ours/worker-process.ts',
    'src/workflows/index.ts',
    'node_modules/tsx',
    'node_modules/@temporalio/worker',
  ].filter((path) => !existsSync(join(dir, path)));
  if (missing.length)
    throw new BeforeCheckoutError(
      `--before ${dir}: not a usable checkout, ${missing.join(', ')} missing` +
        (missing.some((m) => m.startsWith('node_modules')) ? ' (run `npm ci` there first)' : ''),
    );
  const script = `
    const { bundleWorkflowCode } = require('@temporalio/worker');
    const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    bundleWorkflowCode({ workflowsPath: ${JSON.stringify(join(dir, 'src', 'workflows', 'index.ts'))}, logger: silent })
      .then(({ code }) => require('node:fs').writeFileSync(process.argv[1], code))
      .catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });`;
  try {
    await promisify(execFile)(process.execPath, ['-e', script, outFile], {
      cwd: dir,
      maxBuffer: 16 * 2 ** 20,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new BeforeCheckoutError(
      `--before ${dir}: bundling its workflows failed: ${stderr.trim().slice(-2000)}`,
    );
  }
}

function slug(cell: BenchCell, index: number): string {
  return `storm-${index + 1}-${cell.label}`.replace(/[^a-z0-9.]+/gi, '-').replace(/-+$/, '');
}

function sideLine(side: SideResult | undefined): string {
  if (!side) return '';
  if (side.error) return `${side.side} ERROR ${side.error}`;
  return (
    `${side.side} ${(side.wallMs / 1000).toFixed(1)} s, ${side.inSync}/${side.devices} in sync, ` +
    `${side.requestsPerDevice.toFixed(2)} req/device, 403=${side.requestsByStatus['403'] ?? 0}`
  );
}

function write(report: StormReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  judgeStorms(report);
  writeFileSync(join(outDir, 'storms.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'storms.md'), renderStormMarkdown(report));
  writeFileSync(join(outDir, 'storms.svg'), renderStormSvg(report));
}

export async function runStorms(
  temporal: BenchTemporal & { bundlePath: string },
  args: BenchArgs,
  command: string,
): Promise<void> {
  const cells = stormCells({
    delaysMs: args.stormDelaysMs,
    ratios: args.stormRatios,
    windowsMs: args.stormWindowsMs,
    fleets: args.fleets.length ? args.fleets : [DEFAULT_STORM_FLEET],
    references: args.stormReferences,
  });
  const outDir = resolve(ROOT, args.outDir);
  const tmpDir = join(ROOT, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const sources: Partial<Record<'ours' | 'before', WorkerSource>> = {
    ours: { side: 'ours', root: ROOT, bundlePath: temporal.bundlePath },
  };
  const beforeDir = args.beforeDir ? resolve(args.beforeDir) : undefined;
  if (beforeDir) {
    const bundlePath = join(tmpDir, `workflow-bundle-before-${process.pid}.js`);
    log(`bundling the workflows of ${beforeDir}`);
    await bundleBefore(beforeDir, bundlePath);
    sources.before = { side: 'before', root: beforeDir, bundlePath };
  }
  log(`${cells.length} cells (${cells.map((c) => c.label).join('; ')}); sides: ${args.sides.join(', ')}`);

  const report: StormReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command,
    machine: machineDescription(),
    settings: {
      emulatorSeed: args.seed,
      emulatorFaults: args.faults as FaultOverrides,
      oursInput: args.oursInput,
      workerMaxConcurrentActivities: args.workerActivities ?? null,
      workerOptions: args.workerOptions,
      baselineTokenReset: args.baselineTokenReset,
      // Directories relative to this checkout: the results name no path of the machine they ran on.
      ours: { dir: '.', commit: commitOf(ROOT) },
      before: beforeDir ? { dir: relative(ROOT, beforeDir) || '.', commit: commitOf(beforeDir) } : null,
    },
    cells: [],
    summary: { ours: [] },
  };

  for (const [index, cell] of cells.entries()) {
    const faults = mergeOverrides(args.faults as FaultOverrides, cell.faults);
    const settings = resolveFaultSettings(cell.profile, faults);
    const result: StormCellResult = {
      ...cell,
      propagation: settings.propagation,
      armWrites: settings.throttling.armWrites,
      limit: stormLimit(settings, cell.fleet),
    };
    log(
      `cell ${index + 1}/${cells.length} ${cell.label}: limit ${(result.limit.limitMs / 1000).toFixed(1)} s`,
    );
    const emulator = await startEmulator({
      port: 0,
      devices: cell.fleet,
      profile: cell.profile,
      seed: args.seed,
      faults,
    });
    try {
      const inventory = readInventory(emulator.env);
      const sideCell = { fleet: cell.fleet, slug: slug(cell, index) };
      for (const side of args.sides) {
        if (args.maxLoad !== undefined) await waitForLoad(args.maxLoad);
        log(`cell ${index + 1}/${cells.length} ${cell.label}: ${side}`);
        try {
          if (side === 'baseline') {
            result.baseline = await runBaseline(emulator, sideCell, inventory, args, temporal.serverPid);
          } else {
            const source = sources[side];
            if (!source) throw new Error(`no worker source for the ${side} side`);
            result[side] = await runWorkerSide(emulator, sideCell, inventory, args, temporal, source);
          }
        } catch (error) {
          log(`cell ${cell.label}: ${side} failed: ${String(error)}`);
          result[side] = failedSide(side, cell.fleet, error);
        }
      }
    } finally {
      await emulator.close();
    }
    log(
      `cell ${cell.label}: ${[result.baseline, result.before, result.ours].map(sideLine).filter(Boolean).join(' | ')}`,
    );
    report.cells.push(result);
    report.finishedAt = new Date().toISOString();
    write(report, outDir);
  }
  report.finishedAt = new Date().toISOString();
  write(report, outDir);
  process.stdout.write(renderStormMarkdown(report));
  for (const line of [
    ...summaryLines(report.summary.ours, 'ours'),
    ...(report.summary.before ? summaryLines(report.summary.before, 'before') : []),
  ])
    log(line);
  log(`wrote ${join(args.outDir, 'storms.json')}, storms.md and storms.svg`);
}
