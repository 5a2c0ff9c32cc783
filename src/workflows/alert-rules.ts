/**
 * When a sync raises an alert, and what the alert says. Pure; sandbox-safe.
 * Alert ids are deterministic: each kind is raised at most once per sync.
 */
import { authErrorRate } from './metrics';
import { percent } from './run-report';
import type { AlertKind, AlertRecord, PermissionReport, SyncCounters } from './types';

export const ALERT_IDS = {
  AuthErrorRate: 'auth-error-rate',
  AbortThreshold: 'abort-threshold',
  PermissionsNotPropagated: 'permissions-not-propagated',
  DeviceRejections: 'device-rejections',
} as const satisfies Record<AlertKind, string>;

/** The 403 rate is judged only after `minAttempts` write attempts, and alerts when strictly above the threshold. */
export function authErrorRateExceeded(
  counters: Pick<SyncCounters, 'authErrors' | 'writeAttempts'>,
  options: { authErrorRateThreshold: number; minAttempts: number },
): boolean {
  return (
    counters.writeAttempts >= options.minAttempts && authErrorRate(counters) > options.authErrorRateThreshold
  );
}

/** Like AWS IoT Jobs' abort criteria: stop starting batches once more devices than this finally failed with 403. */
export function abortThresholdExceeded(authFailedDevices: number, abortAfterAuthFailures: number): boolean {
  return authFailedDevices > abortAfterAuthFailures;
}

export function makeAlert(kind: AlertKind, message: string, raisedAt: string): AlertRecord {
  return { id: ALERT_IDS[kind], kind, message, raisedAt, acknowledged: false };
}

export function authErrorRateMessage(
  counters: Pick<SyncCounters, 'authErrors' | 'writeAttempts'>,
  threshold: number,
): string {
  // The figures as they stood when the alert was raised; the metrics keep counting for the whole run.
  return (
    `Authorization errors (403) in ${percent(authErrorRate(counters))} of the write attempts made when this ` +
    `alert was raised (${counters.authErrors} 403 responses in ${counters.writeAttempts} attempts), above ` +
    `the ${percent(threshold)} threshold: ` +
    `role assignments may not have propagated yet, or the principal lacks a permission.`
  );
}

export function abortThresholdMessage(authFailedDevices: number, abortAfterAuthFailures: number): string {
  return (
    `${authFailedDevices} devices failed with AuthorizationFailed (more than ${abortAfterAuthFailures}): ` +
    `no new batches were started; devices not attempted are reported as failed with code Aborted.`
  );
}

/**
 * Twin target: more devices refused the policy than `threshold` of the devices holding it (written by this sync
 * or found already holding it). Strictly above; nothing to judge before any device holds it.
 */
export function deviceRejectionsExceeded(rejected: number, holding: number, threshold: number): boolean {
  return holding > 0 && rejected / holding > threshold;
}

export function deviceRejectionsMessage(rejected: number, holding: number, threshold: number): string {
  return (
    `${rejected} of ${holding} devices (${percent(rejected / holding)}) refused the security policy ` +
    `(reported ac 4xx), above ${percent(threshold)}: the run summary lists them with their reasons ` +
    `(code DeviceRejected); they are not written the same document again.`
  );
}

/** The roles of a report in words; `whenNone` when none were found. Pure. */
export function describeRolesAssigned(report: PermissionReport, whenNone: string): string {
  if (report.rolesAssigned.length > 0) return report.rolesAssigned.join(', ');
  return report.rolesUnreadable
    ? 'could not be read (the principal lacks Microsoft.Authorization/roleAssignments/read)'
    : whenNone;
}

export function permissionsNotPropagatedMessage(report: PermissionReport, waitedInMs: number): string {
  const missing = report.missing.length > 0 ? report.missing.join(', ') : '(not reported)';
  const roles = describeRolesAssigned(report, 'none found');
  return (
    `Permissions not effective at hub scope after ${Math.round(waitedInMs / 1000)} s; missing: ${missing}. ` +
    `Roles assigned: ${roles}. Grant them with the role ${report.grantingRole} (policy-sync setup-rbac).`
  );
}
