/**
 * The worker's (or a CLI command's) Azure access, built once from AzureConfig: one credential, one token
 * provider per scope, one keep-alive HTTP client, one pacer per write bucket, and the writers.
 */
import type { Dispatcher } from 'undici';
import type { AzureConfig } from '../config';
import type { PolicyTarget } from '../domain/policy-target';
import { ArmPolicyWriter } from './arm-policy-writer';
import { CredentialSource, credentialOptionsFromConfig } from './credential';
import { HttpClient } from './http';
import { WritePacer, type PacingOptions } from './pacing';
import { AuthorizationGate, type AuthorizationGateOptions } from './authorization-gate';
import type { PolicyWriter } from './policy-writer';
import type { RolePropagationCheckOptions } from './preflight';
import { ARM_SCOPE, IOT_HUB_SCOPE, TokenProvider } from './token-provider';
import { twinUpdatePacing } from './twin-pacing';
import { TwinPolicyWriter } from './twin-policy-writer';

export interface AzureAccessOptions {
  /** undici dispatcher for every ARM and IoT Hub call (tests: an Agent trusting the emulator's CA). @default a keep-alive Agent */
  dispatcher?: Dispatcher;
  /** Replace the credential (tests). @default built from AzureConfig */
  credentials?: CredentialSource;
  /** @default 30000 */
  requestTimeoutInMs?: number;
  /** Pacing of ARM writes; false turns it off. @default ARM's documented bucket, learnt from headers */
  armPacing?: PacingOptions | false;
  /** Pacing of ARM reads; false turns it off. @default ARM's documented read bucket (250, 25/s), learnt from headers */
  armReadPacing?: PacingOptions | false;
  /**
   * Pacing of twin updates; false turns it off. @default 95% of the hub's documented rate
   * (config.hub.twinUpdatesPerSecond), lowered after 429s (twin-pacing.ts)
   */
  twinPacing?: PacingOptions | false;
  /**
   * The hub-wide authorization gates (authorization-gate.ts): while 403s dominate, a few probes instead of
   * every device's request. false turns them off. @default the gate's defaults
   */
  authorizationGate?: AuthorizationGateOptions | false;
}

export interface AzureAccess {
  readonly credentials: CredentialSource;
  readonly armTokens: TokenProvider;
  readonly iotHubTokens: TokenProvider;
  readonly http: HttpClient;
  readonly armWritePacer?: WritePacer;
  readonly armReadPacer?: WritePacer;
  readonly twinWritePacer?: WritePacer;
  /** The hub's authorization gates (one per authorization scope: ARM, IoT Hub's data plane). */
  readonly armGate?: AuthorizationGate;
  readonly iotHubGate?: AuthorizationGate;
  readonly writers: Readonly<Record<PolicyTarget, PolicyWriter>>;
  /** What checkRolePropagation / waitForPropagation need. */
  readonly rolePropagation: RolePropagationCheckOptions;
  readonly config: AzureConfig;
  /** Closes the keep-alive connections (only those of a dispatcher this created). */
  close(): Promise<void>;
}

export function createAzureAccess(config: AzureConfig, options: AzureAccessOptions = {}): AzureAccess {
  const credentials =
    options.credentials ?? CredentialSource.fromOptions(credentialOptionsFromConfig(config));
  const http = new HttpClient({
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.requestTimeoutInMs === undefined ? {} : { requestTimeoutInMs: options.requestTimeoutInMs }),
  });
  const armTokens = new TokenProvider({ scope: ARM_SCOPE, credentials });
  const iotHubTokens = new TokenProvider({ scope: IOT_HUB_SCOPE, credentials });
  const armWritePacer = options.armPacing === false ? undefined : new WritePacer(options.armPacing ?? {});
  const armReadPacer =
    options.armReadPacing === false
      ? undefined
      : new WritePacer(
          options.armReadPacing ?? {
            burst: 250,
            refillPerSecond: 25,
            remainingHeader: 'x-ms-ratelimit-remaining-subscription-reads',
          },
        );
  const twinWritePacer =
    options.twinPacing === false
      ? undefined
      : new WritePacer(options.twinPacing ?? twinUpdatePacing(config.hub.twinUpdatesPerSecond));
  const armGate =
    options.authorizationGate === false ? undefined : new AuthorizationGate(options.authorizationGate);
  const iotHubGate =
    options.authorizationGate === false ? undefined : new AuthorizationGate(options.authorizationGate);
  const writers: Record<PolicyTarget, PolicyWriter> = {
    arm: new ArmPolicyWriter({
      http,
      tokens: armTokens,
      armEndpoint: config.azure.armEndpoint,
      hubScope: config.hub.scope,
      apiVersion: config.policy.apiVersion,
      ...(armWritePacer ? { writePacer: armWritePacer } : {}),
      ...(armReadPacer ? { readPacer: armReadPacer } : {}),
      ...(armGate ? { gate: armGate } : {}),
    }),
    twin: new TwinPolicyWriter({
      http,
      tokens: iotHubTokens,
      hubHost: config.hub.host,
      ...(twinWritePacer ? { writePacer: twinWritePacer } : {}),
      ...(iotHubGate ? { gate: iotHubGate } : {}),
    }),
  };
  return {
    credentials,
    armTokens,
    iotHubTokens,
    http,
    ...(armWritePacer ? { armWritePacer } : {}),
    ...(armReadPacer ? { armReadPacer } : {}),
    ...(twinWritePacer ? { twinWritePacer } : {}),
    ...(armGate ? { armGate } : {}),
    ...(iotHubGate ? { iotHubGate } : {}),
    writers,
    rolePropagation: {
      http,
      tokens: armTokens,
      armEndpoint: config.azure.armEndpoint,
      hubScope: config.hub.scope,
      ...(config.azure.principalObjectId ? { principalObjectId: config.azure.principalObjectId } : {}),
    },
    config,
    async close() {
      if (!options.dispatcher) await http.dispatcher.close();
    },
  };
}
