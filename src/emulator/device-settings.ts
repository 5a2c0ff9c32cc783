import { z } from 'zod';

/**
 * The simulated devices behind the hub, and how they answer a write of `properties.desired.securityPolicy`
 * (IoT Plug and Play's writable-property acknowledgement: reported `{value, ac, av, ad}`).
 *
 * Which devices are offline, rejecting, failing or slow is drawn once per device from the seed and the
 * device id, so it does not depend on the order of requests; raising a ratio only adds devices.
 */
export interface DeviceFault {
  /** Devices answer desired writes at all. */
  acknowledge: boolean;
  /** A connected device answers after a delay drawn from [minDelayMs, maxDelayMs]. */
  minDelayMs: number;
  maxDelayMs: number;
  /** Share of devices that are Disconnected: they answer only after reconnecting. */
  offlineRatio: number;
  /** Share of devices whose firmware refuses the policy: ac 400, the reason in ad. */
  rejectRatio: number;
  /** Share of the other devices that fail applying it: ac 500. */
  errorRatio: number;
  /** Share of devices that answer ac 202 (in progress) first and their final answer after slowDelayMs. */
  slowRatio: number;
  slowDelayMs: number;
}

export const defaultDeviceFault: DeviceFault = {
  acknowledge: true,
  minDelayMs: 500,
  maxDelayMs: 5_000,
  offlineRatio: 0,
  rejectRatio: 0,
  errorRatio: 0,
  slowRatio: 0,
  slowDelayMs: 180_000,
};

const ratio = z.number().min(0).max(1);
const delayMs = z.number().int().min(0).max(3_600_000);

/** Overrides from outside (POST /_emulator/profile, --faults); each field alone. */
export const deviceFaultOverridesSchema = z
  .object({
    acknowledge: z.boolean(),
    minDelayMs: delayMs,
    maxDelayMs: delayMs,
    offlineRatio: ratio,
    rejectRatio: ratio,
    errorRatio: ratio,
    slowRatio: ratio,
    slowDelayMs: delayMs,
  })
  .strict()
  .partial() satisfies z.ZodType<Partial<DeviceFault>>;

/** What is wrong with resolved settings, as messages naming the fields (empty when fine). */
export function deviceFaultProblems(settings: DeviceFault): string[] {
  return settings.minDelayMs > settings.maxDelayMs
    ? [
        `devices.minDelayMs (${settings.minDelayMs}) must not exceed devices.maxDelayMs (${settings.maxDelayMs}); set both`,
      ]
    : [];
}
