/**
 * The seed team's policy push, rebuilt faithfully as the benchmark's baseline. It is deliberately not
 * improved: same batching, same sleeps, same retry rule, same token cache, same metrics. What "faithful"
 * means where the seed's description leaves room is decided in bench/README.md ("The baseline").
 *
 * The pipeline:
 * - a token cache in front of one ClientSecretCredential, the token kept until its expiry;
 * - devices in batches of 50, each batch written with Promise.all, 2 s of sleep between batches;
 * - per device up to 3 tries; a 403 resets the token and backs off 2^n s (n = the try that failed: 2 s, 4 s);
 * - nothing else is retried: a 429, a 5xx, a 401 or a dropped connection fails the device at once;
 * - PUT {ARM_ENDPOINT}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Devices/IotHubs/{hub}
 *   /securityPolicies/{deviceId}?api-version=2021-07-01 with the policy document as the body (fetch = undici);
 * - metrics: successCount, failureCount, authErrors, lastSuccessTime.
 *
 * Run alone: `node --import tsx bench/baseline/seed-script.ts` with the emulator's environment lines (and
 * NODE_EXTRA_CA_CERTS). Under bench/run.ts it runs as a child process that waits for a `go` message, so the
 * emulator can be reset right before it starts.
 */
import { readFileSync } from 'node:fs';
import { ClientSecretCredential, type AccessToken } from '@azure/identity';
import { cpuMsSince, peakRssBytes } from '../process-stats';

/** How a "token reset" gets its next token. See bench/README.md. */
export const TOKEN_RESET_MODES = ['new-credential', 'cache-only'] as const;
export type TokenResetMode = (typeof TOKEN_RESET_MODES)[number];

export interface SeedScriptOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  subscriptionId: string;
  resourceGroup: string;
  hubName: string;
  armEndpoint: string;
  devices: { deviceId: string; policy: string }[];
  policies: Record<string, unknown>;
  /** @default 50 */
  batchSize?: number;
  /** @default 2000 */
  batchDelayInMs?: number;
  /** @default 3 */
  maxTries?: number;
  /** @default '2021-07-01' */
  apiVersion?: string;
  /** @default 'new-credential' */
  tokenReset?: TokenResetMode;
}

/** The seed's own metrics, plus what the benchmark wants to see of its failures. */
export interface SeedScriptResult {
  successCount: number;
  failureCount: number;
  /** 403 responses seen (every try, not devices). */
  authErrors: number;
  lastSuccessTime: string | null;
  /** Token requests the script made (cache misses and resets). */
  tokenRequests: number;
  /** Token resets after a 403. */
  tokenResets: number;
  /** Final failures by cause: HTTP status, or `network` for a dropped connection. */
  failuresByCause: Record<string, number>;
  durationMs: number;
}

const ARM_SCOPE = 'https://management.azure.com/.default';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The seed's token cache: a token is reused until it expires; `reset` drops it after a 403. */
class SeedTokenCache {
  private credential: ClientSecretCredential;
  private cached: AccessToken | null = null;
  requests = 0;
  resets = 0;

  constructor(
    private readonly options: SeedScriptOptions,
    private readonly mode: TokenResetMode,
  ) {
    this.credential = this.newCredential();
  }

  private newCredential(): ClientSecretCredential {
    return new ClientSecretCredential(
      this.options.tenantId,
      this.options.clientId,
      this.options.clientSecret,
      {
        authorityHost: this.options.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
  }

  // Like the seed, no de-duplication: 50 devices that find the cache empty ask for 50 tokens.
  async getToken(): Promise<string> {
    if (this.cached && this.cached.expiresOnTimestamp > Date.now()) return this.cached.token;
    this.requests++;
    const token = await this.credential.getToken(ARM_SCOPE);
    if (!token) throw new Error('no token');
    this.cached = token;
    return token.token;
  }

  reset(): void {
    this.resets++;
    this.cached = null;
    // MSAL keeps its own cache inside the credential and would hand the refused token back: the seed's
    // reset meant a new token, which only a new credential (an empty MSAL cache) gives.
    if (this.mode === 'new-credential') this.credential = this.newCredential();
  }
}

export async function runSeedScript(options: SeedScriptOptions): Promise<SeedScriptResult> {
  const batchSize = options.batchSize ?? 50;
  const batchDelayInMs = options.batchDelayInMs ?? 2000;
  const maxTries = options.maxTries ?? 3;
  const apiVersion = options.apiVersion ?? '2021-07-01';
  const tokens = new SeedTokenCache(options, options.tokenReset ?? 'new-credential');
  const base = `${options.armEndpoint.replace(/\/+$/, '')}/subscriptions/${options.subscriptionId}/resourceGroups/${options.resourceGroup}/providers/Microsoft.Devices/IotHubs/${options.hubName}/securityPolicies`;

  let successCount = 0;
  let failureCount = 0;
  let authErrors = 0;
  let lastSuccessTime: string | null = null;
  const failuresByCause: Record<string, number> = {};
  const fail = (cause: string) => {
    failureCount++;
    failuresByCause[cause] = (failuresByCause[cause] ?? 0) + 1;
  };

  async function updateDevice(device: { deviceId: string; policy: string }): Promise<void> {
    const body = JSON.stringify(options.policies[device.policy]);
    for (let attempt = 1; attempt <= maxTries; attempt++) {
      let status: number;
      try {
        const token = await tokens.getToken();
        const response = await fetch(
          `${base}/${encodeURIComponent(device.deviceId)}?api-version=${apiVersion}`,
          {
            method: 'PUT',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body,
          },
        );
        await response.arrayBuffer();
        status = response.status;
      } catch {
        fail('network');
        return;
      }
      if (status >= 200 && status < 300) {
        successCount++;
        lastSuccessTime = new Date().toISOString();
        return;
      }
      if (status === 403) {
        authErrors++;
        if (attempt < maxTries) {
          tokens.reset();
          await sleep(2 ** attempt * 1000);
          continue;
        }
      }
      fail(String(status));
      return;
    }
  }

  const started = Date.now();
  for (let offset = 0; offset < options.devices.length; offset += batchSize) {
    await Promise.all(options.devices.slice(offset, offset + batchSize).map(updateDevice));
    if (offset + batchSize < options.devices.length) await sleep(batchDelayInMs);
  }
  return {
    successCount,
    failureCount,
    authErrors,
    lastSuccessTime,
    tokenRequests: tokens.requests,
    tokenResets: tokens.resets,
    failuresByCause,
    durationMs: Date.now() - started,
  };
}

/** Reads the seed's inputs from the environment the emulator prints. */
export function seedScriptOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SeedScriptOptions {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const devices = JSON.parse(readFileSync(need('DEVICES_FILE'), 'utf8')) as {
    deviceId: string;
    policy?: string;
  }[];
  const policies = JSON.parse(readFileSync(need('POLICIES_FILE'), 'utf8')) as Record<string, unknown>;
  const mode = env.SEED_TOKEN_RESET ?? 'new-credential';
  if (!(TOKEN_RESET_MODES as readonly string[]).includes(mode)) throw new Error(`SEED_TOKEN_RESET: ${mode}?`);
  return {
    tenantId: need('AZURE_TENANT_ID'),
    clientId: need('AZURE_CLIENT_ID'),
    clientSecret: need('AZURE_CLIENT_SECRET'),
    authorityHost: need('AZURE_AUTHORITY_HOST'),
    subscriptionId: need('AZURE_SUBSCRIPTION_ID'),
    resourceGroup: need('AZURE_RESOURCE_GROUP'),
    hubName: need('IOT_HUB_NAME'),
    armEndpoint: need('ARM_ENDPOINT'),
    devices: devices.map((d) => ({ deviceId: d.deviceId, policy: d.policy ?? 'default' })),
    policies,
    tokenReset: mode as TokenResetMode,
  };
}

async function main(): Promise<void> {
  const options = seedScriptOptionsFromEnv();
  if (process.send) {
    // Under the benchmark driver: load everything, say ready, start on `go`.
    const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
    process.send({ type: 'ready' });
    await go;
  }
  const cpuAtStart = process.cpuUsage();
  const result = await runSeedScript(options);
  const report = { ...result, peakRssBytes: peakRssBytes(), cpuMs: cpuMsSince(cpuAtStart) };
  if (process.send) {
    process.send({ type: 'result', result: report }, () => process.disconnect());
  } else {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`seed script failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
