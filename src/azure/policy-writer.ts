/**
 * The one interface both policy targets implement, and the pure helpers they share.
 */
import type { PolicyDocument } from '../domain/inventory';
import type { PolicyTarget } from '../domain/policy-target';

export type { PolicyDocument };

export interface WritePolicyOptions {
  deviceId: string;
  document: PolicyDocument;
  /** The activity's cancellation signal. */
  abortSignal?: AbortSignal;
  /**
   * The device is known to hold no policy (the sync's bulk observation said so, and every earlier try was refused
   * before Azure acted): create it without reading first, on the condition that none exists, so a write whose
   * answer was lost (or a local attempt run again after a worker died) is not made twice. Targets that need the
   * read to build their write (the twin's merge patch) read anyway. @default false
   */
  knownAbsent?: boolean;
  /**
   * How long this write's requests wait at the hub's authorization gate while it probes, and then: go anyway (a
   * probe) or, with `thenGiveUp`, fail as Throttled without sending (authorization-gate.ts's GateWait).
   * @default the gate's longest wait, then go
   */
  gateWait?: { maxWaitInMs?: number; thenGiveUp?: boolean };
  /**
   * The device's last try was refused (403) at this moment: its requests carry a token issued after it (a new
   * credential, shared with the other retries of the moment). @default any valid token
   */
  freshTokenAfterInMs?: number;
}

export interface WritePolicyResult {
  /** 'unchanged' when the device already held the desired policy; nothing was written. */
  status: 'succeeded' | 'unchanged';
}

/** Writes one device's security policy; throws AzureRequestError. */
export interface PolicyWriter {
  readonly target: PolicyTarget;
  /** The worker's authorization gate for this target's hub, when it has one (authorization-gate.ts). */
  readonly gate?: { isProbing(): boolean } | undefined;
  writePolicy(options: WritePolicyOptions): Promise<WritePolicyResult>;
}

/** sendAuthorized's token requirement for a write's requests. */
export function tokenAfter({ freshTokenAfterInMs }: WritePolicyOptions): { tokenIssuedAfterInMs?: number } {
  return freshTokenAfterInMs === undefined ? {} : { tokenIssuedAfterInMs: freshTokenAfterInMs };
}

/** Whether a JSON value is an object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON equality: same values, object key order ignored. Own keys only, so a key such as 'constructor' or
 * '__proto__' is compared like any other. Recurses only where both sides hold an object or array, so its
 * depth is that of the shallower side (the document's, at most MAX_POLICY_DEPTH).
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const aKeys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return aKeys.length === bKeys.length && aKeys.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}
