/**
 * The inventory's vocabulary: what a device should hold, what was refused, and the handle on a loaded
 * inventory. Pure; sandbox-safe.
 */

/** One device and the name of the policy it should hold. Policy documents never enter history. */
export interface DeviceAssignment {
  deviceId: string;
  policy: string;
}

/** A row of the inventory that was refused, with where it came from and why. */
export interface Rejection {
  /** File path, `hub`, `inventory`, `rerun` or `--devices`. */
  source: string;
  /** 1-based row (data row for CSV/JSON arrays); 0 when the whole source is refused. */
  row: number;
  reason: string;
}

/** A handle on a loaded inventory: the workflow pages through it instead of carrying every device in history. */
export interface InventorySnapshot {
  /** Opaque id the activities use to find the same snapshot again (content hash). */
  id: string;
  /** Valid devices in the snapshot. */
  deviceCount: number;
}

/** A policy document: a JSON object (validated by the inventory). Never enters workflow history. */
export type PolicyDocument = Record<string, unknown>;
