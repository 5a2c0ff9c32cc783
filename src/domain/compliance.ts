/**
 * Device-confirmed compliance: what a device's answer to our write of `properties.desired.securityPolicy`
 * says, read per IoT Plug and Play's writable-property convention. The device answers in
 * `properties.reported.securityPolicy = {value, ac, av, ad}`: `ac` an HTTP-like status (200 applied, 202 in
 * progress, 4xx refused, 5xx failed), `av` the desired `$version` it answers, `ad` an optional description.
 * Pure and sandbox-safe (workflows may import it).
 *
 * Decisions where the convention leaves room:
 * - Only `av` ties an answer to our write: an answer with `av` below the version our write produced is to an
 *   older write, so ours is still unanswered; `av` above it (a later write, answered) counts as an answer.
 * - `ac` 200 is applied even when `value` differs from what we wrote: the convention lets a device report a
 *   different value, and `av` says which write it took.
 * - Only 200, 4xx and 5xx are final. 202 (in progress) and any other code are no answer yet.
 * - A report that cannot be read as an acknowledgement (not an object, `av` missing or not a whole number
 *   ≥ 0) is no answer: it cannot be tied to our write, and it turns stale at the deadline, so it is not
 *   hidden. A report that answers our version (`av` ok) with an unreadable `ac` is the device's error
 *   (deviceError, the reason says what was wrong): it answered, and not in the convention's terms.
 * - Without a written version nothing can be tied to our write: the device is pending (offline, stale).
 * - Disconnected (IoT Hub's `connectionState`, any case) wins over the deadline: an offline device is
 *   offline, not stale. An absent or other connectionState counts as connected.
 * - `ad` is device-supplied text: only a string is taken, cut to 256 characters.
 */

export type ComplianceStatus = 'applied' | 'pending' | 'offline' | 'rejected' | 'deviceError' | 'stale';

export const complianceStatuses: readonly ComplianceStatus[] = [
  'applied',
  'pending',
  'offline',
  'rejected',
  'deviceError',
  'stale',
];

export interface DeviceComplianceInput {
  /** The desired `$version` our write produced (or that we observed holding our policy). */
  writtenVersion?: number;
  /** The twin's `properties.reported.securityPolicy`, as read: anything a device may have put there. */
  reported?: unknown;
  /** The twin's `connectionState` (`Connected` or `Disconnected`). */
  connectionState?: string;
  /** The time we allow devices to answer has run out. */
  ackDeadlinePassed: boolean;
}

export type ComplianceVerdict =
  | { status: 'applied' | 'pending' | 'offline' | 'stale' }
  | {
      status: 'rejected' | 'deviceError';
      /** The device's `ac` (absent when it was unreadable). */
      code?: number;
      /** The device's `ad`, or what was wrong with its answer. */
      reason?: string;
    };

export interface ComplianceCounts {
  applied: number;
  pending: number;
  offline: number;
  rejected: number;
  deviceError: number;
  stale: number;
}

/** A writtenVersion that is not a whole number ≥ 1: a caller's bug, not a device's. */
export class ComplianceInputError extends Error {
  override readonly name = 'ComplianceInputError';
  readonly code = 'InvalidComplianceInput';
}

export const maxReasonLength = 256;

export function classifyCompliance(input: DeviceComplianceInput): ComplianceVerdict {
  const { writtenVersion } = input;
  if (writtenVersion !== undefined && !(Number.isSafeInteger(writtenVersion) && writtenVersion >= 1)) {
    throw new ComplianceInputError(
      `writtenVersion must be a desired $version (a whole number ≥ 1); got ${String(writtenVersion)}`,
    );
  }
  const answer = writtenVersion === undefined ? undefined : readAnswer(input.reported, writtenVersion);
  if (answer) return answer;
  if (input.connectionState?.toLowerCase() === 'disconnected') return { status: 'offline' };
  return input.ackDeadlinePassed ? { status: 'stale' } : { status: 'pending' };
}

/** The final answer to our write in `reported`, or undefined when there is none (yet). */
function readAnswer(reported: unknown, writtenVersion: number): ComplianceVerdict | undefined {
  if (typeof reported !== 'object' || reported === null || Array.isArray(reported)) return undefined;
  const { ac, av, ad } = reported as Record<string, unknown>;
  if (typeof av !== 'number' || !Number.isSafeInteger(av) || av < writtenVersion) return undefined;
  const reason = typeof ad === 'string' && ad !== '' ? ad.slice(0, maxReasonLength) : undefined;
  if (typeof ac !== 'number' || !Number.isInteger(ac) || ac < 100 || ac > 599) {
    const shown = typeof ac === 'string' ? `'${ac.slice(0, 32)}'` : ac === undefined ? 'missing' : typeof ac;
    return { status: 'deviceError', reason: `malformed acknowledgement: ac ${shown}` };
  }
  if (ac === 200) return { status: 'applied' };
  if (ac >= 400 && ac < 500) return withReason('rejected', ac, reason);
  if (ac >= 500) return withReason('deviceError', ac, reason);
  return undefined;
}

function withReason(
  status: 'rejected' | 'deviceError',
  code: number,
  reason: string | undefined,
): ComplianceVerdict {
  return reason === undefined ? { status, code } : { status, code, reason };
}

export function emptyComplianceCounts(): ComplianceCounts {
  return { applied: 0, pending: 0, offline: 0, rejected: 0, deviceError: 0, stale: 0 };
}

/** Counts of many verdicts (or statuses). */
export function countCompliance(verdicts: Iterable<ComplianceStatus | ComplianceVerdict>): ComplianceCounts {
  const counts = emptyComplianceCounts();
  for (const verdict of verdicts) counts[typeof verdict === 'string' ? verdict : verdict.status]++;
  return counts;
}

/** The sum of counts, e.g. of every batch of a sync. */
export function addComplianceCounts(...counts: readonly ComplianceCounts[]): ComplianceCounts {
  const total = emptyComplianceCounts();
  for (const part of counts) for (const status of complianceStatuses) total[status] += part[status];
  return total;
}
