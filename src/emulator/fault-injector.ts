import {
  resolveFaultSettings,
  type EmulatorProfileName,
  type FaultOverrides,
  type FaultSettings,
} from './fault-settings';
import { createRandomSource, type RandomSource } from './prng';
import { remainingTokens, takeToken, type TokenBucketState } from './token-bucket';

export type Surface = 'arm' | 'iotHub';
export type TransientOutcome = 'drop' | 'error500' | 'error503' | 'claimsChallenge';
export type ArmRequestKind = 'reads' | 'writes';

/** How often each fault has fired since start or the last reset. */
export interface FaultCounters {
  throttled: number;
  dropped: number;
  error500: number;
  error503: number;
  claimsChallenges: number;
  /** Calls refused because the assignment that would allow them had not appeared yet. */
  propagationPending: number;
  /** Calls refused although an assignment allows them, because it was still settling. */
  propagationSettling: number;
  /** Token requests refused by an Entra ID outage. */
  entraOutage: number;
}

export interface ThrottleDecision {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
}

/** What ARM's x-ms-ratelimit-remaining-* headers say when throttling is off (its old hourly limits). */
const unthrottledRemaining: Record<ArmRequestKind, number> = { reads: 11999, writes: 1199 };

/**
 * Every fault decision, deterministic under the seed: each fault draws from its own random stream, in the
 * order requests arrive.
 */
export class FaultInjector {
  private profile: EmulatorProfileName;
  private settings: FaultSettings;
  private streams!: Record<'transient' | 'propagation' | 'latency', RandomSource>;
  private armBuckets = new Map<string, TokenBucketState>();
  private twinBucket: TokenBucketState | undefined;
  private queryBucket: TokenBucketState | undefined;
  /** When the current settings took effect: an Entra ID outage runs from here. */
  private settingsSinceMs = Date.now();
  counters: FaultCounters = emptyCounters();

  constructor(
    private readonly seed: number,
    profile: EmulatorProfileName,
    overrides: FaultOverrides = {},
  ) {
    this.profile = profile;
    this.settings = resolveFaultSettings(profile, overrides);
    this.reseed();
  }

  get profileName(): EmulatorProfileName {
    return this.profile;
  }

  get current(): FaultSettings {
    return this.settings;
  }

  setProfile(profile: EmulatorProfileName, overrides: FaultOverrides = {}): void {
    this.profile = profile;
    this.settings = resolveFaultSettings(profile, overrides);
    this.settingsSinceMs = Date.now();
    this.armBuckets.clear();
    this.twinBucket = undefined;
    this.queryBucket = undefined;
  }

  /** How the token endpoint answers during an Entra ID outage, or undefined outside one. */
  entraOutage(nowMs: number): { status: number; retryAfterSeconds: number } | undefined {
    const { outageMs, outageStatus, outageRetryAfterSeconds } = this.settings.entra;
    if (nowMs >= this.settingsSinceMs + outageMs) return undefined;
    this.counters.entraOutage += 1;
    return { status: outageStatus, retryAfterSeconds: outageRetryAfterSeconds };
  }

  /** Back to the state at start: streams reseeded, buckets full, counters zero. */
  reset(): void {
    this.reseed();
    this.armBuckets.clear();
    this.twinBucket = undefined;
    this.queryBucket = undefined;
    this.counters = emptyCounters();
  }

  latencyMs(): number {
    const { fixedMs, jitterMs } = this.settings.latency;
    return fixedMs + (jitterMs > 0 ? Math.floor(this.streams.latency() * (jitterMs + 1)) : 0);
  }

  /** One draw per ARM or IoT Hub request. Claims challenges are ARM's only (IoT Hub has no CAE). */
  transientOutcome(surface: Surface): TransientOutcome | undefined {
    const { dropConnectionRatio, error500Ratio, error503Ratio, unauthorizedChallengeRatio } =
      this.settings.transient;
    if (dropConnectionRatio + error500Ratio + error503Ratio + unauthorizedChallengeRatio <= 0)
      return undefined;
    const draw = this.streams.transient();
    let threshold = dropConnectionRatio;
    if (draw < threshold) return 'drop';
    threshold += error500Ratio;
    if (draw < threshold) return 'error500';
    threshold += error503Ratio;
    if (draw < threshold) return 'error503';
    threshold += unauthorizedChallengeRatio;
    if (draw < threshold && surface === 'arm') return 'claimsChallenge';
    return undefined;
  }

  /** For a call allowed only by a settling assignment: is it refused this time? */
  settlingRefuses(): boolean {
    return this.streams.propagation() < this.settings.propagation.flakyRatio;
  }

  takeArmToken(kind: ArmRequestKind, actor: string, nowMs: number): ThrottleDecision {
    const settings =
      kind === 'reads' ? this.settings.throttling.armReads : this.settings.throttling.armWrites;
    if (!settings) return { allowed: true, remaining: unthrottledRemaining[kind], retryAfterSeconds: 0 };
    const key = `${kind}|${actor}`;
    const decision = takeToken(this.armBuckets.get(key), settings, nowMs);
    this.armBuckets.set(key, decision.state);
    return decision;
  }

  armRemaining(kind: ArmRequestKind, actor: string, nowMs: number): number {
    const settings =
      kind === 'reads' ? this.settings.throttling.armReads : this.settings.throttling.armWrites;
    if (!settings) return unthrottledRemaining[kind];
    return remainingTokens(this.armBuckets.get(`${kind}|${actor}`), settings, nowMs);
  }

  takeTwinUpdate(nowMs: number): ThrottleDecision {
    const rate = this.settings.throttling.twinUpdatesPerSec;
    if (!rate) return { allowed: true, remaining: 0, retryAfterSeconds: 0 };
    const decision = takeToken(this.twinBucket, { burst: rate, refillPerSec: rate }, nowMs);
    this.twinBucket = decision.state;
    return decision;
  }

  /** One device query against the hub's per-minute query budget (a full minute's worth may come at once). */
  takeQuery(nowMs: number): ThrottleDecision {
    const perMinute = this.settings.listing.queriesPerMinute;
    if (!perMinute) return { allowed: true, remaining: 0, retryAfterSeconds: 0 };
    const decision = takeToken(this.queryBucket, { burst: perMinute, refillPerSec: perMinute / 60 }, nowMs);
    this.queryBucket = decision.state;
    return decision;
  }

  private reseed(): void {
    this.streams = {
      transient: createRandomSource(this.seed, 'transient'),
      propagation: createRandomSource(this.seed, 'propagation'),
      latency: createRandomSource(this.seed, 'latency'),
    };
  }
}

function emptyCounters(): FaultCounters {
  return {
    throttled: 0,
    dropped: 0,
    error500: 0,
    error503: 0,
    claimsChallenges: 0,
    propagationPending: 0,
    propagationSettling: 0,
    entraOutage: 0,
  };
}
