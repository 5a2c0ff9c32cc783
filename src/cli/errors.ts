/** Exit codes of the `policy-sync` command line (../shared/interface.md). */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** The sync finished with failed devices, or a command failed. */
  Failed: 1,
  /** Bad usage or configuration. */
  Usage: 2,
  /** Permissions missing at hub scope. */
  PermissionsMissing: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown for a bad flag, value or argument; the message names it. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'BAD_USAGE';
  constructor(
    message: string,
    /** The command whose help the user should read, e.g. `schedule create`. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Thrown when a command could not do what it was asked (nothing to signal, schedule not found). Exit code 1. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
  readonly code = 'COMMAND_FAILED';
}

export function isUsageError(error: unknown): error is UsageError {
  return error instanceof Error && error.name === 'UsageError';
}

export function isCommandFailedError(error: unknown): error is CommandFailedError {
  return error instanceof Error && error.name === 'CommandFailedError';
}
