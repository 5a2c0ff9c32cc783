/**
 * The Azure access layer: plain modules, no Temporal. What the worker, the activities and the CLI use.
 */
export { createAzureAccess, type AzureAccess, type AzureAccessOptions } from './access';
export {
  CredentialSource,
  createCredential,
  credentialOptionsFromConfig,
  type CredentialOptions,
} from './credential';
export {
  ARM_SCOPE,
  IOT_HUB_SCOPE,
  TokenProvider,
  tokenFreshness,
  type TokenProviderOptions,
  type TokenRefreshOptions,
} from './token-provider';
export {
  HttpClient,
  createAzureAgent,
  sendAuthorized,
  type AzureAgentOptions,
  type HttpClientOptions,
} from './http';
export {
  AzureRequestError,
  classifyAzureError,
  isAzureRequestError,
  type AzureErrorCode,
  type AzureFailure,
  type ClassifyContext,
} from './errors';
export { decideThrottling, retryAfterInMs, type ThrottlingDecision } from './throttling';
export {
  WritePacer,
  PacerQueueFullError,
  decidePacing,
  observePacing,
  type PacingOptions,
  type WritePacerOptions,
} from './pacing';
export type { PolicyDocument, PolicyWriter, WritePolicyOptions, WritePolicyResult } from './policy-writer';
export { ArmPolicyWriter, type ArmPolicyWriterOptions } from './arm-policy-writer';
export { TwinPolicyWriter, twinMergePatch, type TwinPolicyWriterOptions } from './twin-policy-writer';
export {
  CUSTOM_ROLE_NAME,
  actionMatches,
  customRolePermissions,
  evaluatePermissions,
  requiredActions,
  type PermissionEntry,
  type RequiredActions,
} from './permissions';
export {
  checkRolePropagation,
  waitForPropagation,
  recheckDelayInMs,
  type RolePropagationCheckOptions,
  type WaitForPropagationOptions,
} from './preflight';
export {
  setupRbac,
  nameBasedGuid,
  customRoleDefinition,
  type SetupRbacOptions,
  type SetupRbacResult,
} from './rbac';
