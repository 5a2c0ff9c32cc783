/**
 * `policy-sync`: the command line. Picks the command, runs it, and turns errors into the exit codes
 * of docs/interface.md: 0 success, 1 failed, 2 bad usage or configuration, 3 permissions missing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { redact } from '../logger';
import { projectRoot } from '../project-root';
import type { Command } from './args';
import {
  ExitCode,
  isCommandFailedError,
  isUsageError,
  MissingSearchAttributesError,
  missingSearchAttributeHint,
  UsageError,
} from './errors';
import type { CommandContext } from './output';

/*
 * Commands load on demand: `policy-sync pause` should not pay for the worker's native runtime, the
 * emulator or the Azure SDKs. (A dynamic import() would be kept as ESM import() by tsc here, which
 * cannot resolve extensionless paths; require() is what CommonJS offers.)
 */
function load<T = Command>(path: string, name: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path) as Record<string, T>)[name] as T;
}

const COMMANDS: Record<string, () => Command> = {
  worker: () => load('./worker', 'workerCommand'),
  run: () => load('./run', 'runCommand'),
  status: () => load('./status', 'statusCommand'),
  alerts: () => load('./alerts', 'alertsCommand'),
  rerun: () => load('./rerun', 'rerunCommand'),
  pause: () => load('./pause-resume', 'pauseCommand'),
  resume: () => load('./pause-resume', 'resumeCommand'),
  preflight: () => load('./preflight', 'preflightCommand'),
  plan: () => load('./plan', 'planCommand'),
  'setup-rbac': () => load('./setup-rbac', 'setupRbacCommand'),
  emulator: () => load('./emulator', 'emulatorCommand'),
  demo: () => load('./demo', 'demoCommand'),
};
const scheduleCommands = (): Record<string, Command> =>
  load<Record<string, Command>>('./schedule', 'scheduleCommands');

/** Every command `policy-sync` offers, the schedule's subcommands included (loads them all). */
export function registeredCommands(): Command[] {
  return [...Object.values(COMMANDS).map((command) => command()), ...Object.values(scheduleCommands())];
}

/** Thrown when the person watching stops with Ctrl-C (see sync-runs.ts); matched by name to stay lazy. */
const WATCH_INTERRUPTED = 'WatchInterruptedError';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function topLevelHelp(): string {
  const rows: [string, string][] = [
    ['worker', 'run a worker until SIGINT/SIGTERM'],
    ['run [--devices a,b] [--wait] [--json]', 'start one sync now'],
    ['status [--workflow-id ID] [--watch] [--json]', "live metrics of the hub's running (or last) sync"],
    [
      'alerts [ack ALERT_ID] [--json]',
      "list the alerts of the hub's running (or last) sync; acknowledge one",
    ],
    ['rerun [--failed-only] [--devices a,b]', 'rerun devices in the running sync, or start one'],
    ['pause | resume', 'hold or release new batches of the running sync'],
    ['schedule create [--every 4h]', 'create or update the schedule (idempotent)'],
    ['schedule describe|pause|unpause|trigger|delete', "the schedule's life cycle"],
    [
      'preflight [--wait] [--timeout 30m] [--json]',
      'are the permissions effective at hub scope? (exit 3 if not)',
    ],
    [
      'plan [--devices a,b] [--json] [--detailed-exitcode]',
      'what a sync would write, per device, from a bulk read (writes nothing)',
    ],
    ['setup-rbac [--principal-id OID]', 'create the custom role and its assignment, wait for propagation'],
    [
      'emulator [--port 8443] [--devices 300] [--profile seed]',
      'run the Azure emulator; prints export lines',
    ],
    ['demo [--exit]', 'everything embedded: dev server + UI, emulator, worker, schedule, one sync'],
  ];
  const width = Math.max(...rows.map(([c]) => c.length)) + 2;
  return [
    'Usage: policy-sync <command> [flags]',
    '',
    'Pushes security policies to every device behind an Azure IoT Hub, durably, with Temporal.',
    '',
    'Commands:',
    ...rows.map(([c, d]) => `  ${c.padEnd(width)}${d}`),
    '',
    "Run 'policy-sync <command> --help' for a command's flags. Configuration comes from the environment",
    '(TEMPORAL_ADDRESS, IOT_HUB_NAME, AZURE_*, DEVICES_FILE, …); flags of the same meaning override it.',
    'Exit codes: 0 success; 1 failed devices or a failed command; 2 bad usage or configuration; 3 permissions missing.',
    '',
  ].join('\n');
}

function scheduleHelp(): string {
  const rows = Object.values(scheduleCommands()).map((c): [string, string] => [
    c.spec.usage,
    c.spec.summary.split('. ')[0] ?? '',
  ]);
  // Two spaces at least between the columns, however long a usage line grows.
  const width = Math.max(...rows.map(([usage]) => usage.length)) + 2;
  return [
    'Usage: policy-sync schedule <create|describe|pause|unpause|trigger|delete> [flags]',
    '',
    "The hub's schedule iot-policy-sync-{hub}: a sync every 4 hours by default.",
    '',
    ...rows.map(([usage, summary]) => `  ${usage.padEnd(width)}${summary}`),
    '',
  ].join('\n');
}

/** Which command `argv` names, and the rest of argv for it. */
export function resolveCommand(argv: string[]): { command?: Command; rest: string[]; help?: string } {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic === 'schedule') return { rest: [], help: scheduleHelp() };
    const topicCommand = topic ? COMMANDS[topic] : undefined;
    if (topicCommand) return { command: topicCommand(), rest: ['--help'] };
    return { rest: [], help: topLevelHelp() };
  }
  if (name === 'schedule') {
    const [sub, ...subRest] = rest;
    if (sub === undefined)
      throw new UsageError(
        'schedule needs a subcommand: create, describe, pause, unpause, trigger or delete',
        'schedule',
      );
    if (sub === '--help' || sub === '-h') return { rest: [], help: scheduleHelp() };
    const command = scheduleCommands()[sub];
    if (!command)
      throw new UsageError(
        `unknown schedule subcommand '${sub}': use create, describe, pause, unpause, trigger or delete`,
        'schedule',
      );
    return { command, rest: subRest };
  }
  const command = COMMANDS[name]?.();
  if (!command)
    throw new UsageError(
      name.startsWith('-')
        ? `unknown flag '${name}' before a command`
        : `unknown command '${name}'; commands: ${[...Object.keys(COMMANDS), 'schedule'].sort().join(', ')}`,
    );
  return { command, rest };
}

/** Runs the command line; resolves to the exit code (never throws). */
export async function main(argv: string[], ctx: CommandContext): Promise<number> {
  let commandName: string | undefined;
  try {
    if (argv[0] === '--version' || argv[0] === '-V') {
      ctx.stdout.write(`${version()}\n`);
      return ExitCode.Ok;
    }
    const { command, rest, help } = resolveCommand(argv);
    if (help !== undefined) {
      ctx.stdout.write(help);
      return ExitCode.Ok;
    }
    if (!command) return ExitCode.Usage;
    commandName = command.spec.name;
    return await command.execute(rest, ctx);
  } catch (error) {
    return reportError(error, ctx, commandName);
  }
}

function reportError(error: unknown, ctx: CommandContext, commandName: string | undefined): number {
  const write = (line: string) => ctx.stderr.write(`${redact(line)}\n`);
  if (isUsageError(error)) {
    const command = (error as { command?: string }).command ?? commandName;
    write(`policy-sync: ${error.message}`);
    write(`Run 'policy-sync ${command ? `${command} ` : ''}--help' for usage.`);
    return ExitCode.Usage;
  }
  if (error instanceof Error && error.name === 'ConfigError') {
    const problems = (error as Error & { problems?: string[] }).problems ?? [error.message];
    write(
      `policy-sync: invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):`,
    );
    for (const problem of problems) write(`  - ${problem}`);
    write('Set these environment variables (or the flags of the same meaning); see README "Configuration".');
    return ExitCode.Usage;
  }
  if (error instanceof Error && error.name === WATCH_INTERRUPTED) {
    write(`policy-sync: ${error.message}; the sync goes on (policy-sync status --watch to follow it again)`);
    return ExitCode.Interrupted;
  }
  if (isCommandFailedError(error)) {
    write(`policy-sync: ${error.message}`);
    return ExitCode.Failed;
  }
  // Commands that went through withClient say which namespace; others (the demo) fall back to the variable.
  const hint =
    error instanceof MissingSearchAttributesError
      ? error.lines
      : missingSearchAttributeHint(error, process.env.TEMPORAL_NAMESPACE?.trim() || 'default');
  if (hint) {
    const [first, ...rest] = hint;
    write(`policy-sync: ${commandName ? `${commandName}: ` : ''}${first}`);
    for (const line of rest) write(line);
    return ExitCode.Usage;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  write(`policy-sync: ${commandName ? `${commandName} failed: ` : ''}${message}`);
  if (error instanceof Error && error.cause instanceof Error)
    write(`  caused by ${error.cause.name}: ${error.cause.message}`);
  return ExitCode.Failed;
}

/** The process entry point: wires streams and signals, then exits with the command's code. */
export function runMain(argv: string[] = process.argv.slice(2)): void {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    controller.abort(new Error(signal));
  };
  // The worker and demo commands handle signals themselves (the Temporal runtime shuts workers down).
  const selfHandled = argv[0] === 'worker' || argv[0] === 'demo';
  if (!selfHandled) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const ctx: CommandContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
  };
  main(argv, ctx).then(
    (code) => {
      process.exitCode = code;
      // Pending handles (gRPC channels, timers) must not hold a finished command; flush output first.
      process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
    },
    (error: unknown) => {
      process.stderr.write(`policy-sync: ${redact(String(error))}\n`);
      process.exit(ExitCode.Failed);
    },
  );
}

if (require.main === module) runMain();
