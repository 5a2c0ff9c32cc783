/**
 * One assessment of the fleet's device-confirmed compliance: every device of the inventory snapshot classified
 * from what one bulk twin read saw (compliance.ts), tallied, with the devices that refused or failed our policy
 * listed up to a bound. Pure; sandbox-safe.
 *
 * Which desired `$version` a device's `av` must reach (our write's version is not kept per device): the
 * `$lastUpdatedVersion` of `properties.desired.$metadata.securityPolicy` — the desired `$version` at which
 * securityPolicy last took its current value. Our write set that value (or found it set, when the writer
 * answered `unchanged`), so an answer with `av` at or above it is an answer to a desired state holding our
 * document; an answer below it is to an older value. Later changes of other desired properties do not move it,
 * so a device that answered our policy is not made pending again by them. Where the hub does not give the
 * metadata, the desired section's `$version` is used instead: never below the property's, so never applied too
 * early (a later change of another property can only keep a device pending, then stale).
 *
 * A device whose desired securityPolicy is not the inventory's document (its write failed, or someone changed
 * it since) has nothing of ours to answer: it is classified without a written version (pending, offline or at
 * the deadline stale) and does not hold the acknowledgement phase open (`awaitingAnswer` leaves it out).
 */
import {
  classifyCompliance,
  emptyComplianceCounts,
  type ComplianceCounts,
  type ComplianceVerdict,
} from './compliance';

/** What one bulk twin read saw of a device, reduced to what classification needs. */
export interface ObservedAnswer {
  deviceId: string;
  /** desired.securityPolicy equals the document the inventory names for this device. */
  holdsOurDocument: boolean;
  /** `$metadata.securityPolicy.$lastUpdatedVersion` of the desired section, when the hub gives it. */
  policyVersion?: number;
  /** The desired section's `$version`. */
  desiredVersion?: number;
  reported?: unknown;
  connectionState?: string;
}

export type DeviceAnswerCode = 'DeviceRejected' | 'DeviceError';

/** A device that refused (ac 4xx) or failed (ac 5xx, or an answer outside the convention) our policy. */
export interface DeviceAnswerFailure {
  deviceId: string;
  code: DeviceAnswerCode;
  /** The device's `ad` (at most 256 characters), or what was wrong with its answer. */
  reason: string;
}

/** The desired version an answer must reach, or undefined when the device holds nothing of ours to answer. */
export function writtenVersionOf(observed: ObservedAnswer): number | undefined {
  if (!observed.holdsOurDocument) return undefined;
  const version = observed.policyVersion ?? observed.desiredVersion;
  return version !== undefined && Number.isSafeInteger(version) && version >= 1 ? version : undefined;
}

/** The reason shown for a device's refusal or failure. */
export function answerReason(
  verdict: Extract<ComplianceVerdict, { status: 'rejected' | 'deviceError' }>,
): string {
  if (verdict.reason !== undefined) return verdict.reason;
  return verdict.code === undefined ? 'no reason given' : `ac ${verdict.code}, no reason given (ad empty)`;
}

export class ComplianceTally {
  readonly counts: ComplianceCounts = emptyComplianceCounts();
  readonly failures: DeviceAnswerFailure[] = [];
  /** Refusals and failures past `listLimit`. */
  notListed = 0;
  /** Connected devices holding our document whose answer has not come. */
  awaitingAnswer = 0;

  constructor(
    private readonly deadlinePassed: boolean,
    private readonly listLimit: number,
  ) {}

  add(observed: ObservedAnswer): ComplianceVerdict {
    const writtenVersion = writtenVersionOf(observed);
    const verdict = classifyCompliance({
      ...(writtenVersion === undefined ? {} : { writtenVersion }),
      reported: observed.reported,
      ...(observed.connectionState === undefined ? {} : { connectionState: observed.connectionState }),
      ackDeadlinePassed: this.deadlinePassed,
    });
    this.counts[verdict.status]++;
    if (verdict.status === 'pending' && writtenVersion !== undefined) this.awaitingAnswer++;
    if (verdict.status === 'rejected' || verdict.status === 'deviceError') {
      if (this.failures.length < this.listLimit)
        this.failures.push({
          deviceId: observed.deviceId,
          code: verdict.status === 'rejected' ? 'DeviceRejected' : 'DeviceError',
          reason: answerReason(verdict),
        });
      else this.notListed++;
    }
    return verdict;
  }
}

/** IoT Hub S1 and S2 allow 20 device queries per minute per unit: the budget bulk twin reads are paced to. */
export const HUB_DEVICE_QUERIES_PER_MINUTE = 20;
