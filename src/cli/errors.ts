import { causeChain } from '../domain/cause-chain';
import { iotHubSearchAttribute, policySyncPhaseSearchAttribute } from '../workflows/search-attributes';

/** Exit codes of the `policy-sync` command line (docs/interface.md; `plan` adds CHANGES_PENDING_EXIT_CODE). */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** The sync finished with failed devices, or a command failed. */
  Failed: 1,
  /** Bad usage or configuration. */
  Usage: 2,
  /** Permissions missing at hub scope. */
  PermissionsMissing: 3,
  /** Ctrl-C while watching a sync: the sync goes on. */
  Interrupted: 130,
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
    /** The separate problems `message` joins, when there are several. */
    readonly problems: readonly string[] = [message],
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

/** Temporal refused because the namespace lacks the product's search attributes; `lines` say what to run. */
export class MissingSearchAttributesError extends Error {
  override readonly name = 'MissingSearchAttributesError';
  constructor(
    readonly lines: string[],
    options?: { cause?: unknown },
  ) {
    super(lines.join('\n'), options);
  }
}

/**
 * When Temporal refused a start because the namespace lacks the product's search attributes (a fresh
 * `temporal server start-dev` or cluster), what to run to register them; undefined for any other error.
 */
export function missingSearchAttributeHint(
  error: unknown,
  /** The namespace the command used, when Temporal's message does not name it. */
  configuredNamespace = 'default',
): string[] | undefined {
  // Starting a workflow says "namespace X has no mapping defined for search attribute Y"; listing workflows
  // with a visibility query says "column name 'Y' is not a valid search attribute".
  const match = causeChain(error)
    .map((e) => (typeof e.message === 'string' ? e.message : ''))
    .map(
      (message) =>
        /(?:namespace (\S+) has )?no mapping defined for search attribute (\w+)/i.exec(message) ??
        /()column name '(\w+)' is not a valid search attribute/i.exec(message),
    )
    .find((m) => m !== null);
  if (!match) return undefined;
  const namespace = match[1] || configuredNamespace;
  const missing = match[2];
  const names = [iotHubSearchAttribute.name, policySyncPhaseSearchAttribute.name];
  return [
    `the Temporal namespace '${namespace}' has no search attribute '${missing}'; iot-policy-sync needs ${names.join(' and ')} (Keyword).`,
    'Register them once per namespace, then try again:',
    ...names.map(
      (name) =>
        `  temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`,
    ),
    `(a dev server can register them at start: temporal server start-dev ${names
      .map((name) => `--search-attribute ${name}=Keyword`)
      .join(' ')}; the docker compose file's setup service does it for you)`,
  ];
}
