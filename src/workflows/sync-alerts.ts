/**
 * The alerts of one sync: recorded once per kind, delivered through the sendAlert activity, acknowledged by
 * signal. The sync waits for deliveries in flight before it ends or continues as new. Workflow code.
 */
import { isCancellation, log } from '@temporalio/workflow';
import type { AlertKind, AlertRecord } from '../domain/alerts';
import { ALERT_IDS, makeAlert } from './alert-rules';

export class SyncAlerts {
  /** Deliveries not finished yet. */
  private inFlight = 0;

  constructor(
    /** The sync's alerts (carried across continue-as-new); raised ones are appended. */
    readonly records: AlertRecord[],
    private readonly send: (alert: AlertRecord) => Promise<void>,
  ) {}

  get deliveriesInFlight(): number {
    return this.inFlight;
  }

  has(kind: AlertKind): boolean {
    return this.records.some((alert) => alert.kind === kind);
  }

  /** Records the alert (once per kind per sync) and starts its delivery; false when it was raised already. */
  raise(kind: AlertKind, message: string): boolean {
    if (this.records.some((alert) => alert.id === ALERT_IDS[kind])) return false;
    const alert = makeAlert(kind, message, new Date().toISOString());
    this.records.push(alert);
    log.warn('Alert raised', { id: alert.id, kind, message });
    this.inFlight += 1;
    void this.deliver(alert);
    return true;
  }

  /** Marks an alert acknowledged; false when there is no such alert. */
  acknowledge(id: unknown): boolean {
    const index = this.records.findIndex((alert) => alert.id === id);
    const alert = this.records[index];
    if (!alert) {
      log.warn('acknowledgeAlert: no such alert', { id: String(id) });
      return false;
    }
    this.records[index] = { ...alert, acknowledged: true };
    return true;
  }

  private async deliver(alert: AlertRecord): Promise<void> {
    try {
      await this.send(alert);
    } catch (error) {
      if (!isCancellation(error))
        log.error('Alert could not be delivered', {
          id: alert.id,
          error: error instanceof Error ? error.message : String(error),
        });
    } finally {
      this.inFlight -= 1;
    }
  }
}
