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
    /** False for answers no retry changes (a redirect, a 4xx refusal). */
    readonly retryable = true,
  ) {
    super(message);
  }
}

export interface AlertSender {
  /** `attempt`: the activity's attempt; the ALERT line is logged on the first only. */
  send(input: SendAlertInput, abortSignal?: AbortSignal, attempt?: number): Promise<void>;
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
    async send(input, abortSignal, attempt = 1) {
      if (attempt === 1)
        options.logger.warn(`ALERT ${input.alert.kind}: ${input.alert.message}`, {
          hub: input.hub,
          workflowId: input.workflowId,
          alertId: input.alert.id,
          kind: input.alert.kind,
        });
      if (!options.webhookUrl) return;
      const timeoutInMs = options.timeoutInMs ?? 10_000;
      const timeout = AbortSignal.timeout(timeoutInMs);
      const signal = abortSignal ? AbortSignal.any([abortSignal, timeout]) : timeout;
      let statusCode: number;
      let location: string | undefined;
      try {
        const response = await request(options.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(alertPayload(input)),
          signal,
          ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        });
        statusCode = response.statusCode;
        location = headerValue(response.headers.location);
        await response.body.dump();
      } catch (error) {
        if (abortSignal?.aborted) throw abortSignal.reason;
        const why = timeout.aborted
          ? `timed out after ${Math.round(timeoutInMs / 1000)} s`
          : error instanceof Error
            ? error.message
            : String(error);
        throw new AlertDeliveryError(
          `Alert ${input.alert.id} could not be posted to ALERT_WEBHOOK_URL: ${why}`,
        );
      }
      if (statusCode >= 300 && statusCode < 400) {
        // Never followed: a security tool must not post its alerts wherever a redirect points.
        throw new AlertDeliveryError(
          `Alert ${input.alert.id}: ALERT_WEBHOOK_URL answered ${statusCode} redirect to ${originOf(location, options.webhookUrl)}; ` +
            'redirects are not followed: set ALERT_WEBHOOK_URL to the final URL',
          statusCode,
          false,
        );
      }
      if (statusCode < 200 || statusCode >= 300) {
        const retryable = statusCode >= 500 || statusCode === 408 || statusCode === 429;
        throw new AlertDeliveryError(
          `Alert ${input.alert.id}: ALERT_WEBHOOK_URL answered ${statusCode}`,
          statusCode,
          retryable,
        );
      }
    },
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Only the origin of where a redirect points: its path and query may carry a token. */
function originOf(location: string | undefined, base: string): string {
  if (!location) return '(no location)';
  try {
    return new URL(location, base).origin;
  } catch {
    return '(an invalid location)';
  }
}
