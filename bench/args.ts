/** The benchmark's command line: which cells to run and with which settings. Pure, tested alone. */
import { parseArgs } from 'node:util';
import { STORM_DEFAULTS } from './storm-cells';

export const PROFILES = ['calm', 'seed', 'throttled', 'hostile'] as const;
export type Profile = (typeof PROFILES)[number];

export interface BenchArgs {
  profiles: Profile[];
  fleets: number[];
  /** Every profile × fleet, 10,000 included (the throttled and hostile 10,000 cells take ~17 min per side). */
  full: boolean;
  quick: boolean;
  /** `before` only with --before DIR (the storm sweep). */
  sides: ('baseline' | 'before' | 'ours')[];
  /** Emulator seed: the same world for both sides. @default 7 */
  seed: number;
  /** Emulator fault overrides on top of each profile (FaultOverrides), for investigations. */
  faults: Record<string, unknown>;
  /** Merged into policySyncWorkflow's input (batchSize, maxConcurrentBatches, batchStartDelayInMs, retry...). */
  oursInput: Record<string, unknown>;
  /** The worker's maxConcurrentActivityTaskExecutions (WORKER_MAX_CONCURRENT_ACTIVITIES). */
  workerActivities: number | undefined;
  /** Probe: our worker writes nothing (applySecurityPolicy is a no-op), to measure the orchestration's own cost. */
  noopWrites: boolean;
  /** Extra Worker options as JSON (maxConcurrentWorkflowTaskExecutions, pollers...), for tuning runs. */
  workerOptions: Record<string, unknown>;
  baselineTokenReset: 'new-credential' | 'cache-only';
  /**
   * Before each side, wait (at most 3 minutes) until the 1-minute load average is at most this: other work on
   * a 2-core machine skews wall times. Undefined: do not wait.
   */
  maxLoad: number | undefined;
  /** Where latest.{json,md,svg} go. @default bench/results */
  outDir: string;
  /**
   * The reconcile cells instead of the matrix (bench/reconcile.ts): plan and sync on a steady and a 1%-drifted
   * fleet, both targets, throttled profile; fleets from --fleets (default 1,000).
   */
  reconcile: boolean;
  /**
   * The acknowledgement-phase cells instead of the matrix (bench/ack.ts): a twin-target sync with a 60 s ack
   * deadline; fleets from --fleets (default 300 and 1,000).
   */
  ack: boolean;
  /**
   * The propagation-storm sweep instead of the matrix (bench/storms.ts): the seed profile with its
   * propagation fault swept, at the storm fleets (--fleets, default 300), plus reference cells.
   */
  storms: boolean;
  /** The storm grid (bench/storm-cells.ts); --storm-delays and --storm-windows are given in seconds. */
  stormDelaysMs: number[];
  stormRatios: number[];
  stormWindowsMs: number[];
  /** --no-references: the storm sweep without its reference cells. */
  stormReferences: boolean;
  /** --before DIR: a third side, our worker and workflows from that checkout. */
  beforeDir: string | undefined;
}

export interface Cell {
  profile: Profile;
  fleet: number;
}

export const USAGE = `npm run bench -- [options]

  --profiles calm,seed,throttled,hostile   profiles to run (default: all four)
  --fleets 300,1000,10000                  fleet sizes (default: 300 and 1,000, plus calm × 10,000)
  --full                                   every profile × 300, 1,000 and 10,000 (adds ~1 hour)
  --quick                                  fleets of 300 only
  --sides baseline,ours                    which sides to run (default: both)
  --seed N                                 emulator seed (default 7)
  --faults JSON                            emulator fault overrides on every profile, e.g. '{"transient":{"error503Ratio":0}}'
  --input JSON                             overrides of policySyncWorkflow's input, e.g. '{"maxConcurrentBatches":8}'
  --worker-activities N                    the worker's maxConcurrentActivityTaskExecutions
  --noop-writes                            probe: our applySecurityPolicy writes nothing (orchestration cost only)
  --worker-options JSON                    extra Worker options, e.g. '{"maxConcurrentWorkflowTaskExecutions":100}'
  --baseline-token-reset new-credential|cache-only
  --max-load X                             before each side, wait up to 3 min for the 1-min load average ≤ X
  --out DIR                                where latest.json, latest.md and latest.svg go (default bench/results)
  --reconcile                              the reconcile cells instead (steady / 1% drift, plan vs sync, both targets,
                                           throttled; --fleets, default 1000): bench/results/reconcile.json and .md
  --ack                                    the acknowledgement-phase cells instead (twin target, 60 s ack deadline;
                                           --fleets, default 300,1000): bench/results/ack-phase.json and .md
  --storms                                 the propagation-storm sweep instead: seed profile, propagation delay ×
                                           refused ratio × refusal window (--fleets, default 300), plus seed × 1,000
                                           and the reference cells: bench/results/storms.json, .md and .svg
  --storm-delays 1,3,10                    storms: grant delays in seconds (default 1,3,10)
  --storm-ratios 0.3,0.6,0.9               storms: shares of calls refused while the grant settles (default 0.3,0.6,0.9)
  --storm-windows 5,15                     storms: how long it settles, in seconds (default 5,15)
  --no-references                          storms: leave out calm × 300, throttled × 1,000 and hostile × 300
  --before DIR                             storms: a third side, "before": the worker and workflows of the checkout
                                           DIR (its own node_modules: run npm ci there first)
`;

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      profiles: { type: 'string' },
      fleets: { type: 'string' },
      full: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      sides: { type: 'string' },
      seed: { type: 'string' },
      input: { type: 'string' },
      faults: { type: 'string' },
      'worker-activities': { type: 'string' },
      'worker-options': { type: 'string' },
      'noop-writes': { type: 'boolean', default: false },
      'baseline-token-reset': { type: 'string' },
      'max-load': { type: 'string' },
      out: { type: 'string' },
      reconcile: { type: 'boolean', default: false },
      ack: { type: 'boolean', default: false },
      storms: { type: 'boolean', default: false },
      'storm-delays': { type: 'string' },
      'storm-ratios': { type: 'string' },
      'storm-windows': { type: 'string' },
      'no-references': { type: 'boolean', default: false },
      before: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) throw new UsageError(USAGE);
  const profiles = (list(values.profiles) ?? [...PROFILES]).map((p) => {
    if (!(PROFILES as readonly string[]).includes(p))
      throw new UsageError(`unknown profile ${p}\n\n${USAGE}`);
    return p as Profile;
  });
  const fleets = list(values.fleets)?.map((f) => {
    const n = Number(f.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`bad fleet size ${f}\n\n${USAGE}`);
    return n;
  });
  const beforeDir = values.before?.trim() || undefined;
  if (values.before !== undefined && !beforeDir)
    throw new UsageError(`--before needs a directory: the checkout to measure as "before"\n\n${USAGE}`);
  if (beforeDir && !values.storms)
    throw new UsageError(`--before is a side of the storm sweep: add --storms\n\n${USAGE}`);
  const defaultSides: BenchArgs['sides'] = beforeDir ? ['baseline', 'before', 'ours'] : ['baseline', 'ours'];
  const sides = (list(values.sides) ?? defaultSides).map((s) => {
    if (s === 'before' && !beforeDir) throw new UsageError(`--sides before needs --before DIR\n\n${USAGE}`);
    if (s !== 'baseline' && s !== 'ours' && s !== 'before')
      throw new UsageError(`unknown side ${s}\n\n${USAGE}`);
    return s;
  });
  const stormOnly = ['storm-delays', 'storm-ratios', 'storm-windows', 'no-references'] as const;
  for (const flag of stormOnly)
    if (values[flag] !== undefined && values[flag] !== false && !values.storms)
      throw new UsageError(`--${flag} narrows the storm sweep: add --storms\n\n${USAGE}`);
  const stormDelaysMs = numbers('--storm-delays', values['storm-delays'], STORM_DEFAULTS.delaysMs, {
    scale: 1000,
    min: 0,
    max: 3_600,
  });
  const stormRatios = numbers('--storm-ratios', values['storm-ratios'], STORM_DEFAULTS.ratios, {
    scale: 1,
    min: 0,
    max: 1,
  });
  const stormWindowsMs = numbers('--storm-windows', values['storm-windows'], STORM_DEFAULTS.windowsMs, {
    scale: 1000,
    min: 0,
    max: 3_600,
  });
  const json = (flag: string, text: string | undefined): Record<string, unknown> => {
    if (!text) return {};
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new UsageError(`${flag} is not JSON: ${text}`);
    }
  };
  const oursInput = json('--input', values.input);
  const faults = json('--faults', values.faults);
  const workerOptions = json('--worker-options', values['worker-options']);
  const reset = values['baseline-token-reset'] ?? 'new-credential';
  if (reset !== 'new-credential' && reset !== 'cache-only')
    throw new UsageError(`--baseline-token-reset: ${reset}?\n\n${USAGE}`);
  const workerActivities = values['worker-activities'] ? Number(values['worker-activities']) : undefined;
  if (workerActivities !== undefined && !(Number.isInteger(workerActivities) && workerActivities > 0))
    throw new UsageError(`--worker-activities must be a positive whole number\n\n${USAGE}`);
  return {
    profiles,
    fleets: fleets ?? [],
    full: values.full,
    quick: values.quick,
    sides,
    seed: values.seed ? Number(values.seed) : 7,
    oursInput,
    faults,
    workerActivities,
    workerOptions,
    noopWrites: values['noop-writes'],
    baselineTokenReset: reset,
    maxLoad: values['max-load'] ? Number(values['max-load']) : undefined,
    outDir: values.out ?? 'bench/results',
    reconcile: values.reconcile,
    ack: values.ack,
    storms: values.storms,
    stormDelaysMs,
    stormRatios,
    stormWindowsMs,
    stormReferences: !values['no-references'],
    beforeDir,
  };
}

/**
 * A comma-separated list of numbers between `min` and `max` (in the flag's own unit), times `scale`; the
 * defaults when the flag is absent. Whole milliseconds, as the emulator's fault settings take them.
 */
function numbers(
  flag: string,
  text: string | undefined,
  defaults: number[],
  { scale, min, max }: { scale: number; min: number; max: number },
): number[] {
  const items = list(text);
  if (text === undefined) return [...defaults];
  if (!items?.length)
    throw new UsageError(
      `${flag} needs at least one value, e.g. ${flag} ${defaults.map((d) => d / scale).join(',')}`,
    );
  const values = items.map((item) => {
    const n = Number(item);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new UsageError(`${flag}: ${item} is not a number from ${min} to ${max}\n\n${USAGE}`);
    return scale === 1 ? n : Math.round(n * scale);
  });
  return [...new Set(values)];
}

/** Thrown for bad flags and --help; the message is the text to print. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * The cells to run. Explicit --fleets run exactly those for the chosen profiles. Without it: --full runs
 * 300, 1,000 and 10,000 for every profile; --quick runs 300; the default runs 300 and 1,000 for every
 * profile plus calm × 10,000 (the 10,000-device throttled cell alone is ~17 min per side at 10 writes/s).
 */
export function benchMatrix(args: BenchArgs): { cells: Cell[]; note: string } {
  const cells: Cell[] = [];
  if (args.fleets.length) {
    for (const profile of args.profiles) for (const fleet of args.fleets) cells.push({ profile, fleet });
    return { cells, note: `Cells chosen with --profiles/--fleets: ${describe(cells)}.` };
  }
  if (args.quick) {
    for (const profile of args.profiles) cells.push({ profile, fleet: 300 });
    return { cells, note: `Quick run (--quick): fleets of 300 only.` };
  }
  const fleets = args.full ? [300, 1_000, 10_000] : [300, 1_000];
  for (const fleet of fleets) for (const profile of args.profiles) cells.push({ profile, fleet });
  if (!args.full && args.profiles.includes('calm')) cells.push({ profile: 'calm', fleet: 10_000 });
  return {
    cells,
    note: args.full
      ? 'Full matrix (--full): every profile × 300, 1,000 and 10,000 devices.'
      : 'Default matrix: every profile × 300 and 1,000 devices, plus calm × 10,000. The seed, throttled and ' +
        'hostile × 10,000 cells run only with --full (throttled × 10,000 alone takes ~17 min per side at ' +
        "ARM's 10 writes/s).",
  };
}

function describe(cells: Cell[]): string {
  return cells.map((c) => `${c.profile} × ${c.fleet}`).join(', ');
}
