/**
 * The propagation-storm sweep's cells and each cell's limit. Pure: the driver (bench/storms.ts) runs them.
 *
 * A cell is generic: a profile, a fleet, fault overrides on top of the profile and a label. The storm grid is
 * the seed profile with its propagation fault overridden; the reference cells are plain profiles, there to
 * check that nothing else got worse.
 */
import {
  resolveFaultSettings,
  type EmulatorProfileName,
  type FaultOverrides,
  type FaultSettings,
} from '../src/emulator';

export interface BenchCell {
  /** How the tables name the cell. */
  label: string;
  /** `storm` cells are judged against the targets; `reference` cells are only compared. */
  kind: 'storm' | 'reference';
  profile: EmulatorProfileName;
  fleet: number;
  /** On top of the profile (and of --faults). */
  faults: FaultOverrides;
}

export interface StormSweepOptions {
  delaysMs: number[];
  ratios: number[];
  windowsMs: number[];
  /** Fleets of the storm grid (--fleets). */
  fleets: number[];
  /** The reference cells (calm × 300, throttled × 1,000, hostile × 300). */
  references: boolean;
}

/** The full sweep: 3 delays × 3 ratios × 2 windows at 300 devices. */
export const STORM_DEFAULTS: StormSweepOptions = {
  delaysMs: [1_000, 3_000, 10_000],
  ratios: [0.3, 0.6, 0.9],
  windowsMs: [5_000, 15_000],
  fleets: [300],
  references: true,
};

/** The seed profile's own world at a larger fleet: the world the seed team measured, scaled up. */
export const SEED_LARGE_FLEET = 1_000;

export const REFERENCE_CELLS: readonly { profile: EmulatorProfileName; fleet: number }[] = [
  { profile: 'calm', fleet: 300 },
  { profile: 'throttled', fleet: 1_000 },
  { profile: 'hostile', fleet: 300 },
];

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;
const count = (n: number) => n.toLocaleString('en-US');

/**
 * The cells, in run order: the storm grid (delay, then ratio, then window, then fleet), then the plain seed
 * profile at 1,000 devices when the grid holds the seed's own world (3 s, 0.6, 15 s) and not already at 1,000
 * (so narrowing the grid to other worlds leaves it out), then the reference cells.
 */
export function stormCells(options: StormSweepOptions): BenchCell[] {
  const cells: BenchCell[] = [];
  for (const delayMs of options.delaysMs)
    for (const flakyRatio of options.ratios)
      for (const flakyWindowMs of options.windowsMs)
        for (const fleet of options.fleets)
          cells.push({
            label: `seed · delay ${seconds(delayMs)}, ${flakyRatio} refused for ${seconds(flakyWindowMs)} × ${count(fleet)}`,
            kind: 'storm',
            profile: 'seed',
            fleet,
            faults: { propagation: { delayMs, flakyRatio, flakyWindowMs } },
          });
  const seed = resolveFaultSettings('seed').propagation;
  const gridHoldsSeedWorld =
    options.delaysMs.includes(seed.delayMs) &&
    options.ratios.includes(seed.flakyRatio) &&
    options.windowsMs.includes(seed.flakyWindowMs);
  if (gridHoldsSeedWorld && !options.fleets.includes(SEED_LARGE_FLEET))
    cells.push({
      label: `seed × ${count(SEED_LARGE_FLEET)}`,
      kind: 'storm',
      profile: 'seed',
      fleet: SEED_LARGE_FLEET,
      faults: {},
    });
  if (options.references)
    for (const { profile, fleet } of REFERENCE_CELLS)
      cells.push({ label: `${profile} × ${count(fleet)}`, kind: 'reference', profile, fleet, faults: {} });
  return cells;
}

/** --faults under the cell's own overrides, fault by fault and field by field. */
export function mergeOverrides(under: FaultOverrides, over: FaultOverrides): FaultOverrides {
  const merged: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over))
    merged[key] = { ...(under[key as keyof FaultOverrides] ?? {}), ...value };
  return merged as FaultOverrides;
}

export interface StormLimit {
  /** End of the refusal window, from the emulator reset: propagation delayMs + flakyWindowMs. */
  refusalEndMs: number;
  /** What the writes need at the rate the world allows: max(0, fleet − burst) ÷ refill of ARM's write bucket. */
  writesMs: number;
  /** refusalEndMs + writesMs: no sync can end sooner. */
  limitMs: number;
}

/**
 * The time after which nothing could be faster. The grant's propagation clock starts when the emulator
 * creates the start role assignment, which a reset does (src/emulator/world.ts, seedRoleAssignments); until
 * delayMs + flakyWindowMs after it some calls are refused. Then the writes: where ARM meters them
 * (throttling.armWrites) the bucket's burst goes at once and the rest at its refill rate; elsewhere any rate
 * is allowed and the writes add nothing (one round of writes and fixed costs are the target's + 3 s).
 */
export function stormLimit(
  settings: Pick<FaultSettings, 'propagation' | 'throttling'>,
  fleet: number,
): StormLimit {
  const { delayMs, flakyWindowMs } = settings.propagation;
  const refusalEndMs = delayMs + flakyWindowMs;
  const bucket = settings.throttling.armWrites;
  const beyondBurst = bucket ? Math.max(0, fleet - bucket.burst) : 0;
  const writesMs =
    beyondBurst === 0
      ? 0
      : bucket && bucket.refillPerSec > 0
        ? (beyondBurst / bucket.refillPerSec) * 1000
        : Infinity;
  return { refusalEndMs, writesMs, limitMs: refusalEndMs + writesMs };
}
