import type { DeviceFault } from './device-settings';
import { isJsonObject, type DeviceRecord, type DeviceRegistry, type JsonObject } from './devices';
import { createRandomSource, type RandomSource } from './prng';

/** The twin property the devices acknowledge. */
export const acknowledgedProperty = 'securityPolicy';

/**
 * How the emulator itself sees a device's answer to the last write of its desired securityPolicy (an
 * independent reading of the convention, for tests to compare the product's numbers with).
 */
export type AcknowledgementStatus = 'applied' | 'pending' | 'offline' | 'rejected' | 'deviceError';
export type AcknowledgementCounts = Record<AcknowledgementStatus, number>;

/** IoT Plug and Play's writable-property answer, as a device puts it into its reported properties. */
export interface WritablePropertyAck {
  value: unknown;
  ac: number;
  av: number;
  ad: string;
}

export interface DeviceAgentsOptions {
  seed: number;
  devices: DeviceRegistry;
  /** The current settings: read at every decision, so a profile change takes effect at once. */
  settings: () => DeviceFault;
  now: () => number;
}

interface Agent {
  /** Fixed per seed and device id: compared with the ratios, so raising a ratio only adds devices. */
  draws: { offline: number; reject: number; error: number; slow: number; rule: number };
  delays: RandomSource;
  /** Set by reconnectDevices(): an offline device that came back stays connected. */
  reconnected: boolean;
  /** The desired $version at which securityPolicy last changed; undefined while never written. */
  policyVersion: number | undefined;
  /** The av of the device's last final answer (not 202). */
  answeredVersion: number | undefined;
  /** What the device runs: it reports this as `value` when it refuses or fails a new one. */
  appliedValue: unknown;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The devices behind the hub. After a write changes `properties.desired.securityPolicy`, a connected device
 * answers per IoT Plug and Play's convention in `properties.reported.securityPolicy`; offline devices answer
 * once reconnected. Timers are unref'd and cleared on reset and close.
 */
export class DeviceAgents {
  private agents = new Map<string, Agent>();

  constructor(private readonly options: DeviceAgentsOptions) {
    this.sync();
  }

  /** Called after every twin update; `previousDesired` is the desired section before it. */
  desiredUpdated(device: DeviceRecord, previousDesired: JsonObject): void {
    const before = JSON.stringify(previousDesired[acknowledgedProperty] ?? null);
    const after = JSON.stringify(device.twin.desired[acknowledgedProperty] ?? null);
    if (before === after) return;
    const agent = this.agentFor(device);
    agent.policyVersion = device.twin.desiredVersion;
    this.cancel(agent);
    this.scheduleIfDue(device, agent);
  }

  /**
   * Brings every agent in line with the registry and the settings: new devices get one, connection states
   * follow offlineRatio, and a device that is connected and owes an answer gets its timer.
   */
  sync(): void {
    const settings = this.options.settings();
    const present = new Set<string>();
    for (const device of this.options.devices.list()) {
      present.add(device.deviceId);
      const agent = this.agentFor(device);
      const offline = !agent.reconnected && agent.draws.offline < settings.offlineRatio;
      this.setConnection(device, offline ? 'Disconnected' : 'Connected');
      if (offline || !settings.acknowledge) this.cancel(agent);
      else this.scheduleIfDue(device, agent);
    }
    for (const [deviceId, agent] of this.agents) {
      if (present.has(deviceId)) continue;
      this.cancel(agent);
      this.agents.delete(deviceId);
    }
  }

  /** Every Disconnected device connects; each then answers the desired version it missed. Returns their ids. */
  reconnectDevices(): string[] {
    const reconnected: string[] = [];
    for (const device of this.options.devices.list()) {
      if (device.connectionState !== 'Disconnected') continue;
      this.agentFor(device).reconnected = true;
      reconnected.push(device.deviceId);
    }
    this.sync();
    return reconnected;
  }

  /**
   * A device restored to its factory state: its reported securityPolicy is gone and it has forgotten what
   * it applied. It stays silent about the current desired version (it has not re-read its twin) and answers
   * the next write. False for an unknown device.
   */
  resetDevice(deviceId: string): boolean {
    const device = this.options.devices.get(deviceId);
    if (!device) return false;
    const agent = this.agentFor(device);
    this.cancel(agent);
    agent.answeredVersion = agent.policyVersion;
    agent.appliedValue = undefined;
    if (acknowledgedProperty in device.twin.reported) {
      const reported = { ...device.twin.reported };
      delete reported[acknowledgedProperty];
      this.updateReported(device, reported);
    }
    return true;
  }

  /** Forgets every agent and its timers (the emulator's reset re-creates the devices), then starts afresh. */
  reset(): void {
    this.close();
    this.sync();
  }

  /** Stops every pending answer. */
  close(): void {
    for (const agent of this.agents.values()) this.cancel(agent);
    this.agents.clear();
  }

  /** The emulator's reading of the device's answer; undefined while its securityPolicy was never written. */
  status(device: DeviceRecord): AcknowledgementStatus | undefined {
    const written = this.agents.get(device.deviceId)?.policyVersion;
    if (written === undefined) return undefined;
    const reported = device.twin.reported[acknowledgedProperty];
    if (isJsonObject(reported) && typeof reported['av'] === 'number' && reported['av'] >= written) {
      const code = reported['ac'];
      if (code === 200) return 'applied';
      if (typeof code === 'number' && code >= 400 && code < 500) return 'rejected';
      if (typeof code === 'number' && code >= 500 && code < 600) return 'deviceError';
    }
    return device.connectionState === 'Disconnected' ? 'offline' : 'pending';
  }

  counts(): AcknowledgementCounts {
    const counts: AcknowledgementCounts = { applied: 0, pending: 0, offline: 0, rejected: 0, deviceError: 0 };
    for (const device of this.options.devices.list()) {
      const status = this.status(device);
      if (status) counts[status]++;
    }
    return counts;
  }

  private agentFor(device: DeviceRecord): Agent {
    const existing = this.agents.get(device.deviceId);
    if (existing) return existing;
    const traits = createRandomSource(this.options.seed, `device:${device.deviceId}`);
    const agent: Agent = {
      draws: { offline: traits(), reject: traits(), error: traits(), slow: traits(), rule: traits() },
      delays: createRandomSource(this.options.seed, `device-delay:${device.deviceId}`),
      reconnected: false,
      policyVersion: undefined,
      answeredVersion: undefined,
      appliedValue: undefined,
      timer: undefined,
    };
    this.agents.set(device.deviceId, agent);
    return agent;
  }

  private setConnection(device: DeviceRecord, state: DeviceRecord['connectionState']): void {
    if (device.connectionState === state) return;
    device.connectionState = state;
    device.connectionStateUpdatedAt = new Date(this.options.now()).toISOString();
  }

  /** A connected device that owes an answer and is not already preparing one starts preparing it. */
  private scheduleIfDue(device: DeviceRecord, agent: Agent): void {
    const settings = this.options.settings();
    if (!settings.acknowledge || device.connectionState !== 'Connected' || agent.timer) return;
    if (agent.policyVersion === undefined || agent.answeredVersion === agent.policyVersion) return;
    const { minDelayMs, maxDelayMs } = settings;
    const delayMs = minDelayMs + Math.floor(agent.delays() * (Math.max(0, maxDelayMs - minDelayMs) + 1));
    this.schedule(device.deviceId, agent, delayMs, 'first');
  }

  private schedule(deviceId: string, agent: Agent, delayMs: number, phase: 'first' | 'final'): void {
    agent.timer = setTimeout(() => {
      agent.timer = undefined;
      this.answer(deviceId, agent, phase);
    }, delayMs);
    agent.timer.unref();
  }

  private cancel(agent: Agent): void {
    if (agent.timer) clearTimeout(agent.timer);
    agent.timer = undefined;
  }

  private answer(deviceId: string, agent: Agent, phase: 'first' | 'final'): void {
    const device = this.options.devices.get(deviceId);
    const version = agent.policyVersion;
    if (!device || this.agents.get(deviceId) !== agent || version === undefined) return;
    if (device.connectionState !== 'Connected' || agent.answeredVersion === version) return;
    const settings = this.options.settings();
    const desired = structuredClone(device.twin.desired[acknowledgedProperty] ?? null);
    const slow = agent.draws.slow < settings.slowRatio;
    if (phase === 'first' && slow) {
      this.report(device, { value: desired, ac: 202, av: version, ad: 'applying' });
      this.schedule(deviceId, agent, settings.slowDelayMs, 'final');
      return;
    }
    agent.answeredVersion = version;
    const firmware = String(device.twin.reported['firmwareVersion'] ?? 'unknown');
    const actual = structuredClone(agent.appliedValue ?? null);
    if (agent.draws.reject < settings.rejectRatio) {
      const reason = `${refusedRule(desired, agent.draws.rule)} unsupported by firmware ${firmware}`;
      this.report(device, { value: actual, ac: 400, av: version, ad: reason });
    } else if (agent.draws.error < settings.errorRatio) {
      const reason = `exception applying the policy: settings store write failed (firmware ${firmware})`;
      this.report(device, { value: actual, ac: 500, av: version, ad: reason });
    } else {
      agent.appliedValue = desired;
      this.report(device, { value: desired, ac: 200, av: version, ad: 'applied' });
    }
  }

  private report(device: DeviceRecord, ack: WritablePropertyAck): void {
    this.updateReported(device, { ...device.twin.reported, [acknowledgedProperty]: ack });
  }

  /** A reported-properties update as IoT Hub records it: its own $version, the twin's version (and etag). */
  private updateReported(device: DeviceRecord, reported: JsonObject): void {
    const { twin } = device;
    twin.reported = reported;
    twin.reportedVersion++;
    twin.reportedUpdatedAt = new Date(this.options.now()).toISOString();
    twin.version++;
  }
}

/** The rule a refusing firmware names: one of the policy's rules, chosen by the device's draw. */
function refusedRule(policy: unknown, draw: number): string {
  const rules = isJsonObject(policy) && Array.isArray(policy['rules']) ? policy['rules'] : [];
  const ids = rules
    .map((rule) => (isJsonObject(rule) && typeof rule['id'] === 'string' ? rule['id'] : undefined))
    .filter((id) => id !== undefined);
  const id = ids[Math.floor(draw * ids.length)];
  return id === undefined ? 'the policy' : `rule '${id}'`;
}
