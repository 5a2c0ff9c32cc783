/**
 * Alerts leave the worker two ways: always as a log line, and as a JSON POST to ALERT_WEBHOOK_URL when set.
 */
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../logger';
import type { SendAlertInput } from '../domain/activity-contract';

export interface AlertSenderOptions {
  logger: Logger;
  webhookUrl?: string;
  /** @default 10000 */
  timeoutInMs?: number;
  dispatcher?: Dispatcher;
}

/** Thrown when the webhook refuses or cannot be reached (the activity retries). */
export class AlertDeliveryError extends Error {
  override readonly name = 'AlertDeliveryError';
  readonly code = 'AlertDeliveryFailed';
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

export interface AlertSender {
  send(input: SendAlertInput, abortSignal?: AbortSignal): Promise<void>;
}

/** The webhook's payload: the alert plus where it comes from. */
export function alertPayload(input: SendAlertInput): Record<string, unknown> {
  return {
    source: 'iot-policy-sync',
    hub: input.hub,
    workflowId: input.workflowId,
    ...input.alert,
  };
}

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  return {
    async send(input, abortSignal) {
      options.logger.warn(`ALERT ${input.alert.kind}: ${input.alert.message}`, {
        hub: input.hub,
        workflowId: input.workflowId,
        alertId: input.alert.id,
        kind: input.alert.kind,
      });
      if (!options.webhookUrl) return;
      const timeout = AbortSignal.timeout(options.timeoutInMs ?? 10_000);
      const signal = abortSignal ? AbortSignal.any([abortSignal, timeout]) : timeout;
      let statusCode: number;
      try {
        const response = await request(options.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(alertPayload(input)),
          signal,
          ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        });
        statusCode = response.statusCode;
        await response.body.dump();
      } catch (error) {
        if (abortSignal?.aborted) throw abortSignal.reason;
        const why = timeout.aborted ? 'timed out' : error instanceof Error ? error.message : String(error);
        throw new AlertDeliveryError(
          `Alert ${input.alert.id} could not be posted to ALERT_WEBHOOK_URL: ${why}`,
        );
      }
      if (statusCode < 200 || statusCode >= 300) {
        throw new AlertDeliveryError(
          `Alert ${input.alert.id}: ALERT_WEBHOOK_URL answered ${statusCode}`,
          statusCode,
        );
      }
    },
  };
}
