import { z } from 'zod';
import {
  emulatorProfileNameSchema,
  faultOverridesSchema,
  type EmulatorProfileName,
  type FaultOverrides,
  type FaultSettings,
} from './fault-settings';
import {
  acknowledgedProperty,
  type AcknowledgementCounts,
  type AcknowledgementStatus,
} from './device-agents';
import type { ConnectionState } from './devices';
import type { FaultCounters } from './fault-injector';
import { EmulatorHttpError, parseJsonBody, type EmulatorRequest, type EmulatorResponse } from './http';
import type { EmulatorWorld } from './world';

/** GET /_emulator/state: what was written, and what happened. */
export interface EmulatorState {
  devices: Record<
    string,
    {
      /** The securityPolicies resource; null when never written (or deleted). */
      policy: unknown;
      /** ARM writes (PUT, DELETE) plus twin updates. */
      writes: number;
      armWrites: number;
      twinWrites: number;
      /** The twin's desired.securityPolicy; null when absent. */
      twinPolicy: unknown;
      /** Kept by the simulated device: Disconnected while offline. */
      connectionState: ConnectionState;
      /** The device's answer, reported.securityPolicy `{value, ac, av, ad}`; null when it has none. */
      reportedPolicy: unknown;
      /** How the emulator reads that answer; null while desired.securityPolicy was never written. */
      acknowledgement: AcknowledgementStatus | null;
    }
  >;
  /** The devices whose desired securityPolicy was written, by `acknowledgement`. */
  acknowledgements: AcknowledgementCounts;
  /** Responses by HTTP status. Dropped connections are counted in `faults.dropped` instead. */
  requests: Record<string, number>;
  tokensIssued: number;
  /** How often each fault fired; `throttled` is the 429s. */
  faults: FaultCounters;
  profile: EmulatorProfileName;
  settings: FaultSettings;
  roleAssignments: {
    name: string;
    scope: string;
    roleDefinitionId: string;
    principalId: string;
    createdOn: string;
  }[];
}

/** The operations behind the introspection routes, also offered in-process by the Emulator object. */
export interface IntrospectionControls {
  state(): EmulatorState;
  reset(options?: { devices?: number }): void;
  setProfile(profile: EmulatorProfileName, faults?: FaultOverrides): void;
  reconnectDevices(): string[];
  /** RangeError for an unknown device. */
  resetDevice(deviceId: string): void;
  tamperPolicy(deviceId: string, document: Record<string, unknown> | null, target?: TamperTarget): void;
}

/** Which store a tamper changes: the securityPolicies resource, or the twin's desired `securityPolicy`. */
export type TamperTarget = 'arm' | 'twin';

export function collectState(world: EmulatorWorld): EmulatorState {
  const devices: EmulatorState['devices'] = {};
  for (const device of world.devices.list()) {
    devices[device.deviceId] = {
      policy: structuredClone(device.policy),
      writes: device.armWrites + device.twinWrites,
      armWrites: device.armWrites,
      twinWrites: device.twinWrites,
      twinPolicy: structuredClone(device.twin.desired['securityPolicy'] ?? null),
      connectionState: device.connectionState,
      reportedPolicy: structuredClone(device.twin.reported[acknowledgedProperty] ?? null),
      acknowledgement: world.agents.status(device) ?? null,
    };
  }
  return {
    devices,
    acknowledgements: world.agents.counts(),
    requests: world.journal.countsByStatus(),
    tokensIssued: world.tokens.issuedCount,
    faults: { ...world.faults.counters },
    profile: world.faults.profileName,
    settings: structuredClone(world.faults.current),
    roleAssignments: [...world.rbac.assignments.values()].map((assignment) => ({
      name: assignment.name,
      scope: assignment.scope,
      roleDefinitionId: `/subscriptions/${world.hub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${assignment.roleDefinitionGuid}`,
      principalId: assignment.principalId,
      createdOn: assignment.createdOn,
    })),
  };
}

const resetBodySchema = z.object({ devices: z.number().int().min(0).max(100_000).optional() }).strict();
const profileBodySchema = z
  .object({ profile: emulatorProfileNameSchema, faults: faultOverridesSchema.optional() })
  .strict();

const tamperBodySchema = z
  .object({
    deviceId: z.string().min(1),
    target: z.enum(['arm', 'twin']).default('arm'),
    document: z.record(z.string(), z.unknown()).nullable(),
  })
  .strict();

/**
 * /_emulator/state, /_emulator/reset, /_emulator/profile, /_emulator/tamper, /_emulator/devices/reconnect and
 * /_emulator/devices/{id}/reset. No authentication: it is the operator's door.
 */
export function handleIntrospection(
  request: EmulatorRequest,
  controls: IntrospectionControls,
): EmulatorResponse {
  try {
    const [, collection, deviceId, action, ...rest] = request.segments;
    if (
      request.method === 'POST' &&
      collection === 'devices' &&
      deviceId !== undefined &&
      action === 'reset' &&
      rest.length === 0
    ) {
      try {
        controls.resetDevice(deviceId);
      } catch (error) {
        if (error instanceof RangeError) throw new EmulatorHttpError(404, 'DeviceNotFound', error.message);
        throw error;
      }
      return { status: 200, body: { deviceId, device: controls.state().devices[deviceId] } };
    }
    const route = `${request.method} ${request.segments.slice(1).join('/')}`;
    switch (route) {
      case 'GET state':
        return { status: 200, body: controls.state() };
      case 'POST reset': {
        const body = readBody(request, resetBodySchema, true);
        controls.reset(body.devices === undefined ? {} : { devices: body.devices });
        return { status: 200, body: controls.state() };
      }
      case 'POST profile': {
        const body = readBody(request, profileBodySchema, false);
        try {
          controls.setProfile(body.profile, body.faults);
        } catch (error) {
          if (error instanceof RangeError)
            throw new EmulatorHttpError(400, 'InvalidRequestContent', error.message);
          throw error;
        }
        return { status: 200, body: controls.state() };
      }
      case 'POST devices/reconnect': {
        const reconnected = controls.reconnectDevices();
        return { status: 200, body: { reconnected: reconnected.length, deviceIds: reconnected } };
      }
      case 'POST tamper': {
        const body = readBody(request, tamperBodySchema, false);
        controls.tamperPolicy(body.deviceId, body.document, body.target);
        return { status: 204 };
      }
      default:
        throw new EmulatorHttpError(
          404,
          'NotFound',
          `No introspection route ${request.method} ${request.path}.`,
        );
    }
  } catch (error) {
    const failure =
      error instanceof EmulatorHttpError
        ? error
        : error instanceof RangeError
          ? new EmulatorHttpError(404, 'DeviceNotFound', error.message)
          : new EmulatorHttpError(500, 'InternalServerError', String(error));
    request.note.code = failure.code;
    return { status: failure.status, body: { error: { code: failure.code, message: failure.message } } };
  }
}

function readBody<T>(request: EmulatorRequest, schema: z.ZodType<T>, emptyAllowed: boolean): T {
  if (request.body.length === 0 && emptyAllowed) return schema.parse({});
  const parsed = parseJsonBody(request);
  if (!parsed.ok) throw new EmulatorHttpError(400, 'InvalidRequestContent', 'The body must be JSON.');
  const result = schema.safeParse(parsed.value);
  if (!result.success) {
    throw new EmulatorHttpError(400, 'InvalidRequestContent', z.prettifyError(result.error));
  }
  return result.data;
}
