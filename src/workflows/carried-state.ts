/**
 * The state of one sync that outlives a run: restored from what continue-as-new carried (or fresh at the
 * first run), and carried on again. Pure; sandbox-safe.
 */
import type { AlertRecord } from '../domain/alerts';
import type { InventorySnapshot, Rejection } from '../domain/inventory';
import { DeviceBacklog } from './device-backlog';
import { FailureLedger } from './failure-ledger';
import { emptyCounters, planWrites } from './metrics';
import type { LoadInventoryResult } from '../domain/activity-contract';
import type { CarriedState, SyncCounters, SyncObservation } from './types';

export interface SyncState {
  startedAt: string;
  /** Original workflow start time in ms since epoch, for durationMs. */
  startedAtMs: number;
  /** Undefined until the inventory is loaded (first run only). */
  snapshot: InventorySnapshot | undefined;
  backlog: DeviceBacklog;
  nextBatchNumber: number;
  counters: SyncCounters;
  failures: FailureLedger;
  rejected: Rejection[];
  alerts: AlertRecord[];
  paused: boolean;
  /** The AuthErrorRate alert was raised (once per sync, across continue-as-new). */
  authErrorRateAlertRaised: boolean;
  /** Inventory pages are read against the fleet's observation (see observed-pages.ts). */
  reconciles: boolean;
  /** How the sync reads devices so far. */
  observation: SyncObservation;
}

/** The state a run starts from: what was carried, or a fresh sync started at `startTime`. */
export function restoreState(
  carried: CarriedState | undefined,
  startTime: Date,
  reconciles = false,
): SyncState {
  if (!carried)
    return {
      startedAt: startTime.toISOString(),
      startedAtMs: startTime.getTime(),
      snapshot: undefined,
      backlog: new DeviceBacklog(),
      nextBatchNumber: 1,
      counters: emptyCounters(),
      failures: new FailureLedger(),
      rejected: [],
      alerts: [],
      paused: false,
      authErrorRateAlertRaised: false,
      reconciles,
      observation: reconciles ? 'bulk' : 'perDevice',
    };
  const ranges = carried.inventoryRanges ?? [
    { from: carried.nextOffset, to: carried.inventorySnapshot.deviceCount },
  ];
  return {
    startedAt: carried.startedAt,
    startedAtMs: carried.startedAtMs,
    snapshot: carried.inventorySnapshot,
    backlog: new DeviceBacklog(ranges, carried.queued),
    nextBatchNumber: carried.nextBatchNumber,
    // Runs before drift was counted carry no `drifted`.
    counters: { ...emptyCounters(), ...carried.counters },
    // Runs from before the ledger carried a plain list of failures.
    failures: carried.failureLedger
      ? new FailureLedger(carried.failureLedger)
      : FailureLedger.fromFailures(carried.failures ?? []),
    rejected: carried.rejected,
    alerts: carried.alerts,
    paused: carried.paused,
    authErrorRateAlertRaised: carried.authFailureAlertRaised,
    reconciles: reconciles && (carried.reconciles ?? false),
    observation: carried.observation ?? 'perDevice',
  };
}

/** What continue-as-new carries into the next run. */
export function carryState(state: SyncState): CarriedState {
  const snapshot = state.snapshot ?? { id: '', deviceCount: 0 };
  const { nextOffset, inventoryRanges, queued } = state.backlog.carried(snapshot.deviceCount);
  return {
    startedAt: state.startedAt,
    startedAtMs: state.startedAtMs,
    inventorySnapshot: snapshot,
    nextOffset,
    inventoryRanges,
    queued,
    nextBatchNumber: state.nextBatchNumber,
    counters: state.counters,
    failureLedger: state.failures.state(),
    rejected: state.rejected,
    alerts: state.alerts,
    paused: state.paused,
    authFailureAlertRaised: state.authErrorRateAlertRaised,
    reconciles: state.reconciles,
    observation: state.observation,
  };
}

/** The first run, once the inventory is loaded: every valid device is to be written; the refused are listed. */
export function startFromInventory(state: SyncState, result: LoadInventoryResult): void {
  state.snapshot = result.snapshot;
  state.rejected.push(...result.rejected);
  const unlisted = result.rejectedCount - result.rejected.length;
  if (unlisted > 0)
    state.rejected.push({ source: 'inventory', row: 0, reason: `${unlisted} more rejected rows not listed` });
  state.backlog = DeviceBacklog.ofInventory(result.snapshot.deviceCount);
  state.counters = planWrites(state.counters, result.snapshot.deviceCount);
}
