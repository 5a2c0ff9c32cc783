/**
 * The acknowledgement phase's decisions (twin target): when to look at the devices' answers again, and how a
 * finished phase reads in the summary, the progress table and the memo. Pure; sandbox-safe.
 */
import type { ComplianceCounts } from '../domain/compliance';
import type { DeviceAnswerFailure } from '../domain/compliance-assessment';
import { HUB_DEVICE_QUERIES_PER_MINUTE } from '../domain/compliance-assessment';
import type { FailureCode } from '../domain/failure-codes';

/** Marks runs of the twin target that wait for the devices' answers after their last batch. */
export const DEVICE_ACKNOWLEDGEMENTS_PATCH = 'device-acknowledgements';

export const ACK_CHECKS = {
  /** The first look, after the last batch: devices answer within seconds. */
  firstWaitInMs: 5_000,
  /** Each wait doubles, up to this. */
  maxWaitInMs: 60_000,
  /** The hub's device query budget the looks stay within (one query per page of twins). */
  queriesPerMinute: HUB_DEVICE_QUERIES_PER_MINUTE,
} as const;

export interface AckWaitInput {
  /** Assessments made so far in this phase. */
  checks: number;
  /** Device queries the last assessment took (0 before the first). */
  lastQueries: number;
  /** Since the phase began. */
  elapsedInMs: number;
  deadlineInMs: number;
}

/**
 * How long to wait before the next assessment: 5 s, 10 s, 20 s, 40 s, then every 60 s, and never less than the
 * last assessment's queries take of the hub's query budget (a fleet of 100,000 twins is 100 pages: 5 minutes
 * of a 20-per-minute budget), so looking again never starves the hub's other queries. Cut at the deadline;
 * undefined once it has passed.
 */
export function nextAckWait(input: AckWaitInput): number | undefined {
  const remaining = input.deadlineInMs - input.elapsedInMs;
  if (remaining <= 0) return undefined;
  const backoff = Math.min(ACK_CHECKS.firstWaitInMs * 2 ** input.checks, ACK_CHECKS.maxWaitInMs);
  const budget = Math.ceil((input.lastQueries * 60_000) / ACK_CHECKS.queriesPerMinute);
  return Math.min(Math.max(backoff, budget), remaining);
}

/** `applied 287 of 300; 8 pending (5 offline); 3 rejected`: what the devices answered, in one line. */
export function complianceLine(counts: ComplianceCounts): string {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const parts = [`applied ${counts.applied} of ${total}`];
  const waiting = counts.pending + counts.offline;
  if (waiting > 0)
    parts.push(`${waiting} pending${counts.offline > 0 ? ` (${counts.offline} offline)` : ''}`);
  if (counts.stale > 0) parts.push(`${counts.stale} stale (no answer by the deadline)`);
  if (counts.rejected > 0) parts.push(`${counts.rejected} rejected`);
  if (counts.deviceError > 0)
    parts.push(`${counts.deviceError} device error${counts.deviceError === 1 ? '' : 's'}`);
  return parts.join('; ');
}

export interface AnswerFailureEntry {
  deviceId: string;
  code: FailureCode;
  message: string;
}

/**
 * The `failed` entries of the devices that refused or failed the policy: each with the device's reason, then,
 * when the assessment listed only some, one `NotListed` entry counting the rest by code.
 */
export function answerFailureEntries(
  listed: readonly DeviceAnswerFailure[],
  counts: Pick<ComplianceCounts, 'rejected' | 'deviceError'>,
): AnswerFailureEntry[] {
  const entries: AnswerFailureEntry[] = listed.map(({ deviceId, code, reason }) => ({
    deviceId,
    code,
    message: reason,
  }));
  const listedRejected = listed.filter((f) => f.code === 'DeviceRejected').length;
  const moreRejected = counts.rejected - listedRejected;
  const moreErrors = counts.deviceError - (listed.length - listedRejected);
  if (moreRejected + moreErrors > 0) {
    const byCode = [
      ...(moreRejected > 0 ? [`DeviceRejected ${moreRejected}`] : []),
      ...(moreErrors > 0 ? [`DeviceError ${moreErrors}`] : []),
    ];
    entries.push({
      deviceId: '*',
      code: 'NotListed',
      message:
        `${moreRejected + moreErrors} more devices refused or failed the policy, not listed (${byCode.join(', ')}); ` +
        "each twin's reported securityPolicy.ad says why",
    });
  }
  return entries;
}
