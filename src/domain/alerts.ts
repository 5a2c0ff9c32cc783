/** The alerts a sync raises (once per kind per sync). Pure; sandbox-safe. */
export const ALERT_KINDS = ['AuthErrorRate', 'PermissionsNotPropagated', 'AbortThreshold'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface AlertRecord {
  id: string;
  kind: AlertKind;
  message: string;
  raisedAt: string;
  acknowledged: boolean;
}
