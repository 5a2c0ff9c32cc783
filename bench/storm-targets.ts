/**
 * The storm sweep's targets, judged per storm cell for a worker side (ours; before when measured), and the
 * worst cell of each. Pure: plain figures in, verdicts out.
 */
import type { SideResult } from './metrics';

export const STORM_TARGETS = {
  /** wall ≤ this × the baseline's wall in the same cell. */
  vsBaseline: 0.75,
  /** wall ≤ limitFactor × limit + limitSlackMs. */
  limitFactor: 1.3,
  limitSlackMs: 3_000,
  requestsPerDevice: 3,
} as const;

export type StormTargetName = 'inSync' | 'vsBaseline' | 'vsLimit' | 'requests';

export const STORM_TARGET_NAMES: Record<StormTargetName, string> = {
  inSync: '100% in sync',
  vsBaseline: `wall ≤ ${STORM_TARGETS.vsBaseline} × baseline`,
  vsLimit: `wall ≤ ${STORM_TARGETS.limitFactor} × limit + ${STORM_TARGETS.limitSlackMs / 1000} s`,
  requests: `≤ ${STORM_TARGETS.requestsPerDevice} requests/device`,
};

export interface StormTargetCheck {
  target: StormTargetName;
  /** null: cannot be judged (no baseline in the cell). */
  met: boolean | null;
  /**
   * How far from the bound, as one number where larger is worse: in sync, the share of devices NOT in sync;
   * vsBaseline, wall ÷ baseline wall; vsLimit, wall ÷ (1.3 × limit + 3 s); requests, requests per device.
   */
  score: number | null;
  /** The figure, in words. */
  detail: string;
}

const s = (ms: number) => (ms / 1000).toFixed(1);

/** The bound of the limit target: 1.3 × limit + 3 s. */
export function limitTargetMs(limitMs: number): number {
  return STORM_TARGETS.limitFactor * limitMs + STORM_TARGETS.limitSlackMs;
}

/** The four targets for one worker side of one storm cell. A side that failed to run misses them all. */
export function judgeStormSide(
  side: SideResult,
  baseline: SideResult | undefined,
  limitMs: number,
): StormTargetCheck[] {
  if (side.error) {
    const detail = `did not run to the end: ${side.error}`;
    return (Object.keys(STORM_TARGET_NAMES) as StormTargetName[]).map((target) => ({
      target,
      met: false,
      score: null,
      detail,
    }));
  }
  const notInSync = side.devices === 0 ? 0 : (side.devices - side.inSync) / side.devices;
  const checks: StormTargetCheck[] = [
    {
      target: 'inSync',
      met: side.inSync === side.devices,
      score: notInSync,
      detail: `${side.inSync}/${side.devices} in sync`,
    },
  ];
  if (!baseline || baseline.error || baseline.wallMs <= 0) {
    checks.push({
      target: 'vsBaseline',
      met: null,
      score: null,
      detail: baseline ? 'the baseline did not run to the end' : 'no baseline in this cell',
    });
  } else {
    const ratio = side.wallMs / baseline.wallMs;
    const boundMs = STORM_TARGETS.vsBaseline * baseline.wallMs;
    // A bound before the limit asks for every device written while the grant still refuses calls: possible only
    // by luck and by sending each device's write again and again (at a 90% refusal rate, ~10 requests a device).
    const beforeLimit =
      boundMs < limitMs
        ? `; the bound, ${s(boundMs)} s, comes before the limit, ${s(limitMs)} s: the script gave up on devices early`
        : '';
    checks.push({
      target: 'vsBaseline',
      met: ratio <= STORM_TARGETS.vsBaseline,
      score: ratio,
      detail: `${s(side.wallMs)} s vs baseline ${s(baseline.wallMs)} s (×${ratio.toFixed(2)})${beforeLimit}`,
    });
  }
  const bound = limitTargetMs(limitMs);
  checks.push({
    target: 'vsLimit',
    met: side.wallMs <= bound,
    score: Number.isFinite(bound) ? side.wallMs / bound : 0,
    detail: `${s(side.wallMs)} s vs ${s(bound)} s (limit ${s(limitMs)} s)`,
  });
  checks.push({
    target: 'requests',
    met: side.requestsPerDevice <= STORM_TARGETS.requestsPerDevice,
    score: side.requestsPerDevice,
    detail: `${side.requestsPerDevice.toFixed(2)} requests/device`,
  });
  return checks;
}

export interface WorstCell {
  target: StormTargetName;
  /** The cell's label; undefined when no cell could be judged. */
  cell?: string;
  met: boolean | null;
  detail: string;
  /** Cells judged, and how many met the target. */
  judged: number;
  metCount: number;
}

/**
 * Per target the worst cell: one that failed to run first, else the largest score. `cells` are the storm
 * cells with one side's checks.
 */
export function worstCells(cells: { label: string; checks: StormTargetCheck[] }[]): WorstCell[] {
  return (Object.keys(STORM_TARGET_NAMES) as StormTargetName[]).map((target) => {
    let worst: { label: string; check: StormTargetCheck } | undefined;
    let judged = 0;
    let metCount = 0;
    for (const { label, checks } of cells) {
      const check = checks.find((c) => c.target === target);
      if (!check || check.met === null) continue;
      judged++;
      if (check.met) metCount++;
      const rank = (c: StormTargetCheck) => (c.score === null ? Infinity : c.score);
      if (!worst || rank(check) > rank(worst.check)) worst = { label, check };
    }
    return worst
      ? { target, cell: worst.label, met: worst.check.met, detail: worst.check.detail, judged, metCount }
      : { target, met: null, detail: 'no cell could be judged', judged, metCount };
  });
}
