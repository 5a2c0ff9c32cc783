/** The alerts a sync raises (once per kind per sync). Pure; sandbox-safe. */
export const ALERT_KINDS = [
  'AuthErrorRate',
  'PermissionsNotPropagated',
  'AbortThreshold',
  'DeviceRejections',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertRecord {
  id: string;
  kind: AlertKind;
  message: string;
  raisedAt: string;
  acknowledged: boolean;
  /** Whether the alert reached ALERT_WEBHOOK_URL; absent on alerts of runs from before it was recorded. */
  delivery?: AlertDelivery;
}

/**
 * `delivered` (or only logged, without a webhook), `failed` with the cause, or `pending`: no answer yet, or none
 * within the few seconds the end of a sync waits for it.
 */
export interface AlertDelivery {
  state: 'delivered' | 'failed' | 'pending';
  error?: string;
}
