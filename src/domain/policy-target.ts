/** Where a device's security policy is written: the ARM securityPolicies resource, or the device twin. Pure. */
export const POLICY_TARGETS = ['arm', 'twin'] as const;
export type PolicyTarget = (typeof POLICY_TARGETS)[number];
