/**
 * A policy's fingerprint, for cheap comparison: sha256 of its canonical JSON (keys sorted). Outside the
 * workflow sandbox (node:crypto); the canonical form itself is sandbox-safe (src/domain/policy-plan.ts).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../domain/policy-plan';

export function policyFingerprint(document: unknown): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}
