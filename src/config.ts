/**
 * The one place that reads process.env. Configuration is validated once, with every problem listed
 * at once; callers exit with code 2 on a ConfigError. Each command validates only what it uses: a
 * command that only talks to Temporal must not demand Azure credentials.
 */
import { z } from 'zod';
import { InvalidDurationError, parseDuration } from './cli/duration';
import { DEFAULT_TWIN_UPDATES_PER_SECOND } from './azure/twin-pacing';

/** Thrown when the environment or flags are invalid; `problems` lists every one, each naming its variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIGURATION';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const httpsUrl = (defaultValue: string) =>
  z
    .string()
    .default(defaultValue)
    .transform((v) => v.trim().replace(/\/+$/, ''))
    .pipe(z.url({ protocol: /^https$/, error: 'must be an https:// URL' }));

const intInRange = (min: number, max: number, defaultValue: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(defaultValue);

/** A rate per second: a positive number (decimals allowed: 1.67/s is 100/min); blank means the default. */
const ratePerSecond = (max: number, defaultValue: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce
      .number({ error: 'must be a number' })
      .positive({ error: 'must be more than 0' })
      .max(max, { error: `must be at most ${max}` })
      .default(defaultValue),
  );

const hubName = z
  .string({ error: 'is required' })
  .trim()
  .regex(/^[A-Za-z0-9-]{3,50}$/, { error: 'must be 3-50 letters, digits or hyphens (an IoT Hub name)' });

/**
 * A variable with a few allowed words: trimmed like every other variable (a stray newline from a shell or an
 * env file is not a different value), and refused showing the value as it came, JSON-quoted, so that an
 * invisible character is visible. Blank means unset: the default.
 */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) =>
  z
    .string()
    .optional()
    .transform((value, ctx): T[number] => {
      const trimmed = value?.trim() ?? '';
      if (trimmed === '') return defaultValue;
      const allowed = values.find((v) => v === trimmed);
      if (allowed !== undefined) return allowed;
      const words = values.map((v) => `'${v}'`);
      ctx.addIssue({
        code: 'custom',
        message: `must be ${words.slice(0, -1).join(', ')} or ${words.at(-1)} (got ${JSON.stringify(value)})`,
      });
      return z.NEVER;
    });

const guidLike = z
  .string({ error: 'is required' })
  .trim()
  .regex(/^[0-9a-fA-F-]{36}$/, { error: 'must be a GUID like 00000000-0000-0000-0000-000000000000' });

/** The longest POLICY_ACK_DEADLINE (the workflow's MAX_ACK_DEADLINE_MS). */
const MAX_ACK_DEADLINE_MS = 24 * 3_600_000;

/** A duration like `60s` or `10m`; `0` (look once, right away) too. Blank means unset. */
const ackDeadline = z
  .string()
  .optional()
  .transform((value, ctx): number | undefined => {
    const trimmed = value?.trim() ?? '';
    if (trimmed === '') return undefined;
    if (trimmed === '0') return 0;
    try {
      const ms = parseDuration(trimmed);
      if (ms <= MAX_ACK_DEADLINE_MS) return ms;
      ctx.addIssue({ code: 'custom', message: `(or --ack-deadline) must be at most 24h (got '${trimmed}')` });
    } catch (error) {
      if (!(error instanceof InvalidDurationError)) throw error;
      ctx.addIssue({
        code: 'custom',
        message: `(or --ack-deadline) must be a duration like 60s, 10m or 1h, or 0 (got ${JSON.stringify(value)})`,
      });
    }
    return z.NEVER;
  });

export const configSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .trim()
    .default('localhost:7233')
    .refine(
      (v) => {
        // What the SDK accepts: a host (a name, an IPv4 address or a bracketed IPv6 one), an optional port (7233).
        const match = /^(?:\[[^\s\]]+\]|[^\s:/[\]]+)(?::(\d{1,5}))?$/.exec(v);
        return (
          match !== null && (match[1] === undefined || (Number(match[1]) >= 1 && Number(match[1]) <= 65535))
        );
      },
      { error: 'must be host[:port], e.g. localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233 (no scheme)' },
    ),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default('iot-policy-sync'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS_CERT: optionalString,
  TEMPORAL_TLS_KEY: optionalString,
  AZURE_TENANT_ID: optionalString,
  AZURE_CLIENT_ID: optionalString,
  AZURE_CLIENT_SECRET: optionalString,
  AZURE_AUTHORITY_HOST: httpsUrl('https://login.microsoftonline.com'),
  AZURE_SUBSCRIPTION_ID: guidLike,
  AZURE_RESOURCE_GROUP: z
    .string({ error: 'is required' })
    .trim()
    .regex(/^[-\w._()]{1,90}$/, { error: 'must be a resource group name (1-90 letters, digits, -_.())' }),
  IOT_HUB_NAME: hubName,
  ARM_ENDPOINT: httpsUrl('https://management.azure.com'),
  IOT_HUB_HOST: optionalString,
  IOT_HUB_TWIN_UPDATES_PER_SECOND: ratePerSecond(100_000, DEFAULT_TWIN_UPDATES_PER_SECOND),
  POLICY_TARGET: oneOf(['arm', 'twin'], 'arm'),
  POLICY_ACK_DEADLINE: ackDeadline,
  IOT_HUB_QUERIES_PER_MINUTE: intInRange(1, 100_000, 20),
  POLICY_API_VERSION: z
    .string()
    .trim()
    .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, { error: 'must look like 2021-07-01' })
    .default('2021-07-01'),
  INVENTORY_SOURCE: oneOf(['file', 'hub'], 'file'),
  DEVICES_FILE: optionalString,
  POLICIES_FILE: optionalString,
  ALERT_WEBHOOK_URL: optionalString.pipe(z.url({ error: 'must be a URL' }).optional()),
  SERVICE_PRINCIPAL_OBJECT_ID: optionalString,
  WORKER_METRICS_PORT: intInRange(0, 65535, 0).optional(),
  WORKER_METRICS_HOST: z
    .string()
    .trim()
    .default('0.0.0.0')
    .pipe(
      z.union([z.ipv4(), z.ipv6()], {
        error: 'must be an IP address to listen on, e.g. 0.0.0.0 (every interface) or 127.0.0.1',
      }),
    ),
  // As many as a sync has devices in flight (50 × 10): a device waiting at the authorization gate or the pacer
  // holds a slot, and costs a promise, not a thread.
  WORKER_MAX_CONCURRENT_ACTIVITIES: intInRange(1, 2000, 500),
});

/** The variables every command reads: where Temporal is, and which hub's workflows (their ids name it). */
const TEMPORAL_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CERT',
  'TEMPORAL_TLS_KEY',
  'IOT_HUB_NAME',
  'POLICY_TARGET',
  'POLICY_ACK_DEADLINE',
] as const;

/** Plus what talking to Azure needs (preflight, setup-rbac). */
const AZURE_VARIABLES = [
  ...TEMPORAL_VARIABLES,
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_AUTHORITY_HOST',
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_RESOURCE_GROUP',
  'ARM_ENDPOINT',
  'IOT_HUB_HOST',
  'IOT_HUB_QUERIES_PER_MINUTE',
  'IOT_HUB_TWIN_UPDATES_PER_SECOND',
  'POLICY_API_VERSION',
  'SERVICE_PRINCIPAL_OBJECT_ID',
] as const;

type TemporalVariable = (typeof TEMPORAL_VARIABLES)[number];
type AzureVariable = (typeof AZURE_VARIABLES)[number];

/** Rules across variables; checked even when single variables are wrong, so every problem shows at once. */
function crossFieldProblems(raw: Record<string, string | undefined>, inventory: boolean): string[] {
  const set = (name: string) => (raw[name] ?? '').trim() !== '';
  const source = raw.INVENTORY_SOURCE?.trim() || 'file';
  const problems: string[] = [];
  if (inventory && source === 'file' && !set('DEVICES_FILE'))
    problems.push('DEVICES_FILE is required when INVENTORY_SOURCE=file');
  if (inventory && (source === 'file' || source === 'hub') && !set('POLICIES_FILE'))
    problems.push('POLICIES_FILE is required: it holds the policy documents that devices name');
  if (set('TEMPORAL_TLS_CERT') !== set('TEMPORAL_TLS_KEY'))
    problems.push('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  return problems;
}

export type RawConfig = z.infer<typeof configSchema>;

/**
 * What every command reads: the Temporal connection and the hub whose workflows it names. Enough for
 * run, status, rerun, pause, resume and schedule, which only talk to Temporal.
 */
export interface Config {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    apiKey?: string;
    tlsCertPath?: string;
    tlsKeyPath?: string;
  };
  hub: { name: string };
  policy: {
    target: 'arm' | 'twin';
    /** Twin target: how long devices have to acknowledge the policy. @default the workflow's (10 minutes) */
    ackDeadlineInMs?: number;
  };
}

/** Config plus the Azure side: what preflight and setup-rbac read. */
export interface AzureConfig extends Config {
  azure: {
    tenantId?: string;
    clientId?: string;
    /** Kept only in the process that talks to Azure; never logged. */
    clientSecret?: string;
    authorityHost: string;
    /** True when the authority is not Microsoft's public one (emulator, private clouds without discovery). */
    disableInstanceDiscovery: boolean;
    subscriptionId: string;
    resourceGroup: string;
    armEndpoint: string;
    principalObjectId?: string;
  };
  hub: {
    name: string;
    /** host[:port] of the data plane. */
    host: string;
    /** ARM scope of the hub. */
    scope: string;
    /** Device queries per minute the observation may send (IoT Hub's query throttle: 20 per unit on S1/S2). */
    queriesPerMinute: number;
    /** The hub's documented twin-update rate (tier × units); twin writes are paced below it. */
    twinUpdatesPerSecond: number;
  };
  policy: { target: 'arm' | 'twin'; apiVersion: string; ackDeadlineInMs?: number };
}

/** Everything: what the worker reads (the inventory, alerts, its own settings besides Azure). */
export interface WorkerConfig extends AzureConfig {
  inventory: { source: 'file' | 'hub'; devicesFile?: string; policiesFile?: string };
  alertWebhookUrl?: string;
  worker: {
    /** Prometheus metrics (the SDK's and the product's) are served when set (and not 0). */
    metricsPort?: number;
    /** The IP address the metrics endpoint listens on. */
    metricsHost: string;
    maxConcurrentActivities: number;
  };
}

/** Flags that override the environment variable of the same meaning. */
export type ConfigOverrides = Partial<Record<keyof RawConfig, string | undefined>>;

/** Validates the `variables` of env (plus overrides); throws ConfigError listing every problem. */
function parseVariables<K extends keyof RawConfig>(
  variables: readonly K[],
  env: NodeJS.ProcessEnv,
  overrides: ConfigOverrides,
): Pick<RawConfig, K> {
  const merged: Record<string, string | undefined> = {};
  for (const key of variables) merged[key] = overrides[key] ?? env[key];
  const shape: Partial<typeof configSchema.shape> = {};
  // In the schema's order, so that problems read the same whichever command reports them.
  for (const key of Object.keys(configSchema.shape) as (keyof RawConfig)[])
    if ((variables as readonly string[]).includes(key))
      Object.assign(shape, { [key]: configSchema.shape[key] });
  const parsed = z.object(shape).safeParse(merged);
  const inventory = (variables as readonly string[]).includes('DEVICES_FILE');
  const crossField = crossFieldProblems(merged, inventory);
  if (!parsed.success || crossField.length > 0) {
    const problems = (parsed.error?.issues ?? []).map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const message =
        issue.code === 'invalid_type' && merged[name] === undefined ? 'is required' : issue.message;
      return `${name} ${message}`;
    });
    throw new ConfigError([...problems, ...crossField]);
  }
  return parsed.data as unknown as Pick<RawConfig, K>;
}

function temporalConfig(c: Pick<RawConfig, TemporalVariable>): Config {
  return {
    temporal: {
      address: c.TEMPORAL_ADDRESS,
      namespace: c.TEMPORAL_NAMESPACE,
      taskQueue: c.TEMPORAL_TASK_QUEUE,
      apiKey: c.TEMPORAL_API_KEY,
      tlsCertPath: c.TEMPORAL_TLS_CERT,
      tlsKeyPath: c.TEMPORAL_TLS_KEY,
    },
    hub: { name: c.IOT_HUB_NAME },
    policy: {
      target: c.POLICY_TARGET,
      ...(c.POLICY_ACK_DEADLINE === undefined ? {} : { ackDeadlineInMs: c.POLICY_ACK_DEADLINE }),
    },
  };
}

function azureConfig(c: Pick<RawConfig, AzureVariable>): AzureConfig {
  const scope =
    `/subscriptions/${c.AZURE_SUBSCRIPTION_ID}/resourceGroups/${c.AZURE_RESOURCE_GROUP}` +
    `/providers/Microsoft.Devices/IotHubs/${c.IOT_HUB_NAME}`;
  return {
    ...temporalConfig(c),
    azure: {
      tenantId: c.AZURE_TENANT_ID,
      clientId: c.AZURE_CLIENT_ID,
      clientSecret: c.AZURE_CLIENT_SECRET,
      authorityHost: c.AZURE_AUTHORITY_HOST,
      disableInstanceDiscovery: !/^https:\/\/login\.(microsoftonline\.(com|us)|chinacloudapi\.cn)$/i.test(
        c.AZURE_AUTHORITY_HOST,
      ),
      subscriptionId: c.AZURE_SUBSCRIPTION_ID,
      resourceGroup: c.AZURE_RESOURCE_GROUP,
      armEndpoint: c.ARM_ENDPOINT,
      principalObjectId: c.SERVICE_PRINCIPAL_OBJECT_ID,
    },
    hub: {
      name: c.IOT_HUB_NAME,
      host: c.IOT_HUB_HOST ?? `${c.IOT_HUB_NAME}.azure-devices.net`,
      scope,
      queriesPerMinute: c.IOT_HUB_QUERIES_PER_MINUTE,
      twinUpdatesPerSecond: c.IOT_HUB_TWIN_UPDATES_PER_SECOND,
    },
    policy: {
      target: c.POLICY_TARGET,
      apiVersion: c.POLICY_API_VERSION,
      ...(c.POLICY_ACK_DEADLINE === undefined ? {} : { ackDeadlineInMs: c.POLICY_ACK_DEADLINE }),
    },
  };
}

/** Validates what every command reads (Config); throws ConfigError listing every problem. */
export function loadTemporalConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ConfigOverrides = {},
): Config {
  return temporalConfig(parseVariables(TEMPORAL_VARIABLES, env, overrides));
}

/** Validates what talking to Azure needs (AzureConfig); throws ConfigError listing every problem. */
export function loadAzureConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ConfigOverrides = {},
): AzureConfig {
  return azureConfig(parseVariables(AZURE_VARIABLES, env, overrides));
}

/** Validates every variable (WorkerConfig); throws ConfigError listing every problem. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ConfigOverrides = {},
): WorkerConfig {
  const c = parseVariables(Object.keys(configSchema.shape) as (keyof RawConfig)[], env, overrides);
  return {
    ...azureConfig(c),
    inventory: { source: c.INVENTORY_SOURCE, devicesFile: c.DEVICES_FILE, policiesFile: c.POLICIES_FILE },
    alertWebhookUrl: c.ALERT_WEBHOOK_URL,
    worker: {
      metricsPort: c.WORKER_METRICS_PORT,
      metricsHost: c.WORKER_METRICS_HOST,
      maxConcurrentActivities: c.WORKER_MAX_CONCURRENT_ACTIVITIES,
    },
  };
}
