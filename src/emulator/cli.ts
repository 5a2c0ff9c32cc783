import { parseArgs } from 'node:util';
import { deviceFaultProblems } from './device-settings';
import {
  emulatorProfileNames,
  faultOverridesSchema,
  resolveFaultSettings,
  type EmulatorProfileName,
  type FaultOverrides,
} from './fault-settings';
import { isHostName, startEmulator, type Emulator, type EmulatorOptions } from './emulator';
import { hubNamePattern } from './identities';

export interface EmulatorCommandOptions {
  /** Stops the emulator like SIGINT/SIGTERM would (for callers that embed the command). */
  signal?: AbortSignal;
  /** @default process.stdout */
  stdout?: NodeJS.WritableStream;
  /** @default process.stderr */
  stderr?: NodeJS.WritableStream;
}

export const emulatorUsage = `Usage: policy-sync emulator [options]

Runs the Azure emulator (Entra ID, Resource Manager, IoT Hub) on https://PUBLIC_HOST:PORT and prints, one
per line, export NAME='value' for every variable that points the product at it. It runs until Ctrl-C: start
it in one terminal and paste the lines into another.

Options:
  --port N             port to listen on, 0 for any free port (default 8443)
  --host ADDR          address to listen on, e.g. 0.0.0.0 in a container (default 127.0.0.1)
  --public-host NAME   the name clients use: in the URLs it prints, the token issuer and the certificate's
                       subjectAltName, beside localhost and 127.0.0.1 (default 127.0.0.1)
  --hub NAME           IoT hub name, 3-50 letters, digits and hyphens (default hub-emulated)
  --devices N          number of devices (default 300)
  --profile NAME       calm | seed | throttled | hostile (default calm)
  --seed N             seed of every random fault decision (default 1)
  --catalog NAME       seed | public: public has no securityPolicies (default seed)
  --token-lifetime S   expires_in of issued tokens, in seconds (default 3600)
  --faults JSON        fault overrides on top of the profile, e.g. '{"latency":{"fixedMs":50}}';
                       the simulated devices' answers to desired writes too, e.g.
                       '{"devices":{"offlineRatio":0.1,"rejectRatio":0.05,"slowRatio":0.02}}'
                       (also minDelayMs 500, maxDelayMs 5000, slowDelayMs 180000, errorRatio,
                       acknowledge true)
  --state-dir DIR      where ca.pem, ca-bundle.pem, devices.json and policies.json go (default: a temp dir)
  --no-grant           do not give the principal its role assignment at start
  -h, --help           this text
`;

/**
 * `policy-sync emulator`: starts the emulator, prints the export lines on stdout, logs on stderr, and stays
 * up until SIGINT or SIGTERM. Returns the exit code: 0 after a clean stop, 1 if it could not start, 2 for
 * bad usage. `argv` is what follows the command name (a leading `emulator` is skipped).
 */
export async function runEmulatorCommand(
  argv: string[],
  options: EmulatorCommandOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const parsed = parseEmulatorArgs(argv[0] === 'emulator' ? argv.slice(1) : argv);
  if (parsed.kind === 'help') {
    stdout.write(emulatorUsage);
    return 0;
  }
  if (parsed.kind === 'error') {
    stderr.write(`policy-sync emulator: ${parsed.message}\n\n${emulatorUsage}`);
    return 2;
  }

  let emulator: Emulator;
  try {
    emulator = await startEmulator(parsed.options);
  } catch (error) {
    stderr.write(
      `policy-sync emulator: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
  stdout.write(
    Object.entries(emulator.env)
      .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
      .join(''),
  );
  const { profile = 'calm', devices = 300, seed = 1, host = '127.0.0.1' } = parsed.options;
  stderr.write(
    `Azure emulator listening on ${host}:${emulator.port} as ${emulator.url} (hub ${emulator.hub.name}, ` +
      `profile ${profile}, ${devices} devices, seed ${seed}). ` +
      `State: GET ${emulator.url}/_emulator/state. Stop with Ctrl-C.\n`,
  );

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      options.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop);
  });
  await emulator.close();
  stderr.write('Azure emulator stopped.\n');
  return 0;
}

type ParsedArgs =
  { kind: 'run'; options: EmulatorOptions } | { kind: 'help' } | { kind: 'error'; message: string };

/** Pure: flags to emulator options, or a message naming the bad flag. */
export function parseEmulatorArgs(argv: string[]): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'public-host': { type: 'string' },
        hub: { type: 'string' },
        devices: { type: 'string' },
        profile: { type: 'string' },
        seed: { type: 'string' },
        catalog: { type: 'string' },
        'token-lifetime': { type: 'string' },
        faults: { type: 'string' },
        'state-dir': { type: 'string' },
        grant: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { kind: 'help' };
  const problems: string[] = [];
  const integer = (flag: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
      problems.push(`--${flag} must be a whole number from ${min} to ${max}; got '${raw}'`);
      return undefined;
    }
    return value;
  };
  const options: EmulatorOptions = {
    port: integer('port', values.port, 0, 65535) ?? 8443,
    devices: integer('devices', values.devices, 0, 100_000) ?? 300,
    seed: integer('seed', values.seed, -2_147_483_648, 4_294_967_295) ?? 1,
  };
  const lifetime = integer('token-lifetime', values['token-lifetime'], 1, 86_400);
  if (lifetime !== undefined) options.tokenLifetimeSeconds = lifetime;
  if (values.profile !== undefined) {
    if (emulatorProfileNames.includes(values.profile as EmulatorProfileName)) {
      options.profile = values.profile as EmulatorProfileName;
    } else {
      problems.push(`--profile must be one of ${emulatorProfileNames.join(', ')}; got '${values.profile}'`);
    }
  }
  if (values.catalog !== undefined) {
    if (values.catalog === 'seed' || values.catalog === 'public') options.catalog = values.catalog;
    else problems.push(`--catalog must be seed or public; got '${values.catalog}'`);
  }
  if (values.faults !== undefined) {
    const faults = parseFaults(values.faults);
    if (typeof faults === 'string') problems.push(`--faults ${faults}`);
    else {
      options.faults = faults;
      const profile = options.profile ?? 'calm';
      for (const problem of deviceFaultProblems(resolveFaultSettings(profile, faults).devices))
        problems.push(`--faults ${problem}`);
    }
  }
  if (values.host !== undefined) {
    if (isHostName(values.host)) options.host = values.host;
    else problems.push(`--host must be an IP address or a host name; got '${values.host}'`);
  }
  if (values['public-host'] !== undefined) {
    if (isHostName(values['public-host'])) options.publicHost = values['public-host'];
    else problems.push(`--public-host must be an IP address or a host name; got '${values['public-host']}'`);
  }
  if (values.hub !== undefined) {
    if (hubNamePattern.test(values.hub)) options.hubName = values.hub;
    else problems.push(`--hub must be 3-50 letters, digits and hyphens; got '${values.hub}'`);
  }
  if (values['state-dir'] !== undefined) options.stateDir = values['state-dir'];
  if (values.grant === false) options.grantOnStart = false;
  return problems.length > 0 ? { kind: 'error', message: problems.join('\n') } : { kind: 'run', options };
}

function parseFaults(raw: string): FaultOverrides | string {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return 'must be JSON';
  }
  const result = faultOverridesSchema.safeParse(json);
  return result.success
    ? result.data
    : `is not valid: ${result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`;
}

/** POSIX single quotes: safe for any value, `'` becomes `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
