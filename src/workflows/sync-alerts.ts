/**
 * The alerts of one sync: recorded once per kind, delivered through the sendAlert activity (each alert records
 * how its delivery went), acknowledged by signal. The sync waits for deliveries in flight before it ends or
 * continues as new; at its end, at most ALERT_WAIT_AT_END_MS (runs with ALERT_DELIVERY_BUDGET_PATCH). Workflow code.
 */
import { TimeoutFailure, TimeoutType } from '@temporalio/common';
import { condition, isCancellation, log, patched } from '@temporalio/workflow';
import type { AlertDelivery, AlertKind, AlertRecord } from '../domain/alerts';
import { innermostCause } from '../domain/cause-chain';
import { ALERT_IDS, makeAlert } from './alert-rules';
import { sanitizeMessage } from './device-outcome';
import { ALERT_DELIVERY_BUDGET_PATCH, ALERT_WAIT_AT_END_MS } from './options';

/** Delivers one alert; `bounded`: with the few quick attempts of runs with ALERT_DELIVERY_BUDGET_PATCH. */
export type SendAlert = (alert: AlertRecord, bounded: boolean) => Promise<void>;

export class SyncAlerts {
  /** Deliveries not finished yet. */
  private inFlight = 0;

  constructor(
    /** The sync's alerts (carried across continue-as-new); raised ones are appended. */
    readonly records: AlertRecord[],
    private readonly send: SendAlert,
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
    this.records.push({ ...alert, delivery: { state: 'pending' } });
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

  /**
   * Waits for the deliveries in flight, or until `interrupt`. Runs with ALERT_DELIVERY_BUDGET_PATCH wait at most
   * ALERT_WAIT_AT_END_MS, record the alerts still undelivered as pending with why, and return true: the sync may
   * end. Older runs wait as long as the deliveries take and return false: the caller decides again.
   */
  async settle(interrupt: () => boolean = () => false): Promise<boolean> {
    if (!patched(ALERT_DELIVERY_BUDGET_PATCH)) {
      await condition(() => this.inFlight === 0 || interrupt());
      return false;
    }
    await condition(() => this.inFlight === 0 || interrupt(), ALERT_WAIT_AT_END_MS);
    if (interrupt()) return false;
    for (const alert of this.records)
      if (alert.delivery?.state === 'pending')
        this.setDelivery(alert.id, {
          state: 'pending',
          error: `ALERT_WEBHOOK_URL had not answered ${ALERT_WAIT_AT_END_MS / 1000} s after the sync ended; not delivered`,
        });
    return true;
  }

  private async deliver(alert: AlertRecord): Promise<void> {
    try {
      await this.send(alert, patched(ALERT_DELIVERY_BUDGET_PATCH));
      this.setDelivery(alert.id, { state: 'delivered' });
    } catch (error) {
      if (!isCancellation(error)) {
        // The activity failure says only "Activity task failed": its cause says what the webhook did.
        const cause = sanitizeMessage(deliveryFailureCause(error));
        this.setDelivery(alert.id, { state: 'failed', error: cause });
        log.error('Alert could not be delivered', { id: alert.id, error: cause });
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  private setDelivery(id: string, delivery: AlertDelivery): void {
    const index = this.records.findIndex((alert) => alert.id === id);
    const alert = this.records[index];
    if (alert) this.records[index] = { ...alert, delivery };
  }
}

/** What a failed sendAlert came to: the webhook's answer or the timeout, not "Activity task failed". */
function deliveryFailureCause(error: unknown): string {
  const inner = innermostCause(error, (link) => link instanceof Error && link.cause instanceof Error);
  if (inner instanceof TimeoutFailure)
    return `sendAlert timed out (${inner.timeoutType === undefined ? 'timeout' : TimeoutType[inner.timeoutType]})`;
  return inner instanceof Error ? inner.message : String(inner);
}
