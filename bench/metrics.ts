/**
 * What the benchmark measures, as plain data and pure functions: the driver collects raw observations
 * (emulator state and request log, the side's own report), these turn them into the figures of the table.
 */
import type { RequestBreakdown } from './request-breakdown';

/** `before`: our worker and workflows from another checkout (--before DIR), the product before a change. */
export const SIDES = ['baseline', 'before', 'ours'] as const;
export type Side = (typeof SIDES)[number];

/** One side of one cell: what it did to the same emulated world. */
export interface SideResult {
  side: Side;
  /** From the side's start signal (after the emulator's reset) to its end. */
  wallMs: number;
  devices: number;
  /** Devices whose stored policy is exactly the desired document (emulator state). */
  inSync: number;
  /** Devices the side itself reported as failed. */
  failures: number;
  /** Responses by status between the reset and the end, every endpoint (Entra ID, ARM). */
  requestsByStatus: Record<string, number>;
  /** All requests the emulator answered (plus dropped connections) per device. */
  requestsPerDevice: number;
  /** Those requests by kind (token and discovery, permission checks, reads, writes), with the 403s. */
  requestCounts?: RequestBreakdown;
  /** From the emulator reset (where the grant's propagation clock starts) to the side's start signal. */
  resetToStartMs?: number;
  /** Policy writes (PUT) attempted, and the 429s among them. */
  writeAttempts: number;
  write429s: number;
  /** Successful writes per second while the write bucket was the limit (see `sustainedWriteRate`). */
  sustainedWritesPerSec: number | null;
  /** Milestones in ms after the side's start: first request to the emulator, first write, last successful write. */
  timeline?: { firstRequestMs: number | null; firstWriteMs: number | null; lastWriteOkMs: number | null };
  /** How often each emulator fault fired (dropped connections, 500s, 503s, claims challenges...). */
  faults?: Record<string, number>;
  /** Peak resident memory of the process that did the writes (the worker, or the seed script). */
  peakRssBytes: number | null;
  /**
   * CPU time (ms) between the side's start and end: the side's own process (seed script; our worker), the
   * Temporal dev server, and the benchmark process that hosts the emulator; and the 1-minute load average
   * at start and end (other work on the machine shows here).
   */
  resources: {
    sideCpuMs: number | null;
    temporalServerCpuMs: number | null;
    emulatorAndDriverCpuMs: number;
    loadAverage: [number, number];
  } | null;
  /** Ours: history events of each run of the parent, in run order (continue-as-new). */
  parentRunEvents?: number[];
  /** Ours: children (batches) run. */
  childWorkflows?: number;
  /** What the side itself reported (the seed's metrics, or our run summary's counters). */
  reported: Record<string, unknown>;
  /** Set when the side could not run to the end. */
  error?: string;
}

export interface CellResult {
  profile: string;
  fleet: number;
  baseline?: SideResult;
  before?: SideResult;
  ours?: SideResult;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; memoryGiB: number; node: string; platform: string };
  /** What the run covered, in words (the default matrix leaves the slow 10,000-device cells out). */
  matrixNote: string;
  settings: {
    emulatorSeed: number;
    emulatorFaults: Record<string, unknown>;
    oursInput: Record<string, unknown>;
    workerMaxConcurrentActivities: number | null;
    workerOptions: Record<string, unknown>;
    noopWrites: boolean;
    baselineTokenReset: string;
  };
  cells: CellResult[];
  targets: TargetCheck[];
}

export interface TargetCheck {
  name: string;
  cell: string;
  met: boolean | null;
  detail: string;
}

export function status(result: Pick<SideResult, 'requestsByStatus'>, code: number): number {
  return result.requestsByStatus[String(code)] ?? 0;
}

export function inSyncRatio(result: Pick<SideResult, 'inSync' | 'devices'>): number {
  return result.devices === 0 ? 1 : result.inSync / result.devices;
}

/** Deep equality of JSON values, key order ignored: "holds exactly the desired document". */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && jsonEqual(left[key], right[key]));
}

/** Devices whose stored policy equals the document their inventory row names. */
export function countInSync(
  stored: Record<string, { policy: unknown }>,
  inventory: { deviceId: string; policy: string }[],
  documents: Record<string, unknown>,
): number {
  let count = 0;
  for (const { deviceId, policy } of inventory) {
    const device = stored[deviceId];
    if (device && jsonEqual(device.policy, documents[policy])) count++;
  }
  return count;
}

export interface WriteRecord {
  atMs: number;
  status: number;
}

/**
 * Successful writes per second once the burst is spent: the writes after the `burst`-th success, over the time
 * from that success to the last one. From then on only the refill lets writes through, so a client that keeps
 * the bucket busy scores the refill rate (a little more, from what refilled during the burst); one that
 * bounces off 429s, waits too long or gives up scores less. Null when the fleet fits in the burst.
 */
export function sustainedWriteRate(writes: WriteRecord[], burst: number): number | null {
  const ok = writes
    .filter((w) => w.status >= 200 && w.status < 300)
    .map((w) => w.atMs)
    .sort((a, b) => a - b);
  const burstSpentAt = ok[burst - 1];
  const last = ok.at(-1);
  if (ok.length <= burst || burstSpentAt === undefined || last === undefined) return null;
  const seconds = (last - burstSpentAt) / 1000;
  return seconds > 0 ? (ok.length - burst) / seconds : null;
}

export const MB = 1024 * 1024;

export function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

export function cellName(cell: Pick<CellResult, 'profile' | 'fleet'>): string {
  return `${cell.profile} × ${cell.fleet.toLocaleString('en-US')}`;
}
