/**
 * IoT Hub's rules for device ids and the inventory's rules for policy references, as zod schemas whose
 * messages name the field and say what is wrong.
 */
import { z } from 'zod';
import { isDotSegment } from '../domain/device-id';

export const DEVICE_ID_MAX_LENGTH = 128;
/** ASCII letters, digits and - . + % _ # * ? ! ( ) , : = @ $ ' (IoT Hub's documented set). */
const ALLOWED = /^[A-Za-z0-9\-.+%_#*?!(),:=@$']$/;
export const DEVICE_ID_ALLOWED_DESCRIPTION = "letters, digits and - . + % _ # * ? ! ( ) , : = @ $ '";

/** Policy used when a row names none. */
export const DEFAULT_POLICY_NAME = 'default';

function describeChar(c: string): string {
  if (c === ' ') return "' ' (space)";
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f ? `U+${code.toString(16).padStart(4, '0').toUpperCase()}` : `'${c}'`;
}

/** Why a device id is not acceptable to IoT Hub, or undefined when it is. */
export function deviceIdProblem(deviceId: string): string | undefined {
  if (deviceId.length === 0) return 'deviceId is empty';
  if (isDotSegment(deviceId)) {
    return `deviceId '${deviceId}' is a relative path segment ('.' or '..', possibly percent-encoded), which would address the hub's own resource instead of a device; rename the device`;
  }
  if (deviceId.length > DEVICE_ID_MAX_LENGTH) {
    return `deviceId is ${deviceId.length} characters long; IoT Hub allows at most ${DEVICE_ID_MAX_LENGTH}`;
  }
  const bad = [...new Set([...deviceId].filter((c) => !ALLOWED.test(c)))];
  if (bad.length > 0) {
    return (
      `deviceId '${deviceId.length > 40 ? `${deviceId.slice(0, 40)}…` : deviceId}' contains ` +
      `${bad.slice(0, 5).map(describeChar).join(', ')}, which IoT Hub does not allow (allowed: ${DEVICE_ID_ALLOWED_DESCRIPTION})`
    );
  }
  return undefined;
}

export const deviceIdSchema = z
  .string({
    error: (issue) => (issue.input === undefined ? 'deviceId is missing' : 'deviceId must be a string'),
  })
  .superRefine((value, ctx) => {
    const problem = deviceIdProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const policyNameSchema = z
  .string({ error: 'policy must be a string naming a policy in POLICIES_FILE' })
  .trim()
  .max(256, { error: 'policy name is longer than 256 characters' })
  .transform((v) => (v === '' ? DEFAULT_POLICY_NAME : v));

/** One inventory row as read, before validation. */
export const deviceRowSchema = z.object({
  deviceId: deviceIdSchema,
  policy: z.preprocess((v) => (v === undefined || v === null ? DEFAULT_POLICY_NAME : v), policyNameSchema),
});

/** The first problem of a failed parse, as one sentence. */
export function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue?.message ?? 'invalid row';
}
