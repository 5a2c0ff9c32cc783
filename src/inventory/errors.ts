/** The inventory layer's one error type. */

export const INVENTORY_ERROR_CODES = [
  /** A whole file is unusable: missing, empty, truncated, not the expected shape. */
  'InvalidInventoryFile',
  /** A snapshot id no longer matches what the source holds. */
  'InventoryChanged',
  /** A device names a policy the snapshot does not have. */
  'PolicyNotFound',
  /** A selection (`run --devices`) of which no device can be synced. */
  'NothingSelected',
] as const;
export type InventoryErrorCode = (typeof INVENTORY_ERROR_CODES)[number];

/** Thrown when an inventory source cannot be read as a whole, or a snapshot cannot be found again. */
export class InventoryError extends Error {
  override readonly name = 'InventoryError';
  constructor(
    readonly code: InventoryErrorCode,
    message: string,
    /** The file concerned, when there is one. */
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, path: this.path, message: this.message };
  }
}

export function isInventoryError(error: unknown): error is InventoryError {
  return error instanceof Error && error.name === 'InventoryError' && 'code' in error;
}
