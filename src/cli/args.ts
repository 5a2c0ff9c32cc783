/**
 * Flag parsing for every command: node's util.parseArgs in strict mode, with its errors turned into
 * UsageErrors that name the flag, and `--help` text made from the same table.
 */
import { parseArgs } from 'node:util';
import { isDotSegment } from '../domain/device-id';
import { deviceIdProblem } from '../inventory/device-id';
import type { ConfigOverrides } from '../config';
import type { CommandContext } from './output';
import { InvalidDurationError, parseDuration } from './duration';
import { UsageError } from './errors';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help, e.g. `ID` in `--workflow-id ID`. */
  valueName?: string;
  description: string;
}
export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<F extends FlagSpecs> = {
  [K in keyof F]: F[K]['type'] extends 'boolean' ? boolean : string | undefined;
};

export interface CommandSpec<F extends FlagSpecs> {
  /** As typed after `policy-sync`, e.g. `schedule create`. */
  name: string;
  summary: string;
  /** Usage line without the `policy-sync` prefix. */
  usage: string;
  flags: F;
  /** Extra help paragraphs (exit codes, environment). */
  notes?: string[];
  /** Allowed positional arguments; none when unset. */
  positionals?: { max: number; names: string };
}

/** Flags that override the environment variable of the same meaning; most commands take them. */
/** `--target`, on every command that reads or writes Azure for one target. */
export const TARGET_FLAG = {
  type: 'string',
  valueName: 'arm|twin',
  description: 'policy target (overrides POLICY_TARGET)',
} as const;

export const CONNECTION_FLAGS = {
  hub: { type: 'string', valueName: 'NAME', description: 'IoT Hub name (overrides IOT_HUB_NAME)' },
  address: {
    type: 'string',
    valueName: 'HOST:PORT',
    description: 'Temporal frontend (overrides TEMPORAL_ADDRESS)',
  },
  namespace: {
    type: 'string',
    valueName: 'NS',
    description: 'Temporal namespace (overrides TEMPORAL_NAMESPACE)',
  },
  'task-queue': {
    type: 'string',
    valueName: 'NAME',
    description: 'task queue (overrides TEMPORAL_TASK_QUEUE)',
  },
} as const satisfies FlagSpecs;

export const HELP_FLAG = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

export function connectionOverrides(values: {
  hub?: string | undefined;
  address?: string | undefined;
  namespace?: string | undefined;
  'task-queue'?: string | undefined;
}): ConfigOverrides {
  return {
    IOT_HUB_NAME: values.hub,
    TEMPORAL_ADDRESS: values.address,
    TEMPORAL_NAMESPACE: values.namespace,
    TEMPORAL_TASK_QUEUE: values['task-queue'],
  };
}

export interface ParsedCommand<F extends FlagSpecs> {
  values: FlagValues<F>;
  positionals: string[];
  help: boolean;
}

/** Parses `argv` against `spec`; throws UsageError naming the offending flag. */
export function parseCommand<F extends FlagSpecs>(spec: CommandSpec<F>, argv: string[]): ParsedCommand<F> {
  const flags: FlagSpecs = { ...spec.flags, ...HELP_FLAG };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, flag] of Object.entries(flags)) {
    options[name] = flag.short ? { type: flag.type, short: flag.short } : { type: flag.type };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: false,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error, spec), spec.name);
  }
  // parseArgs keeps the last of a repeated flag; a second --devices would silently drop the first list.
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== 'option' || flags[token.name]?.type !== 'string') continue;
    if (seen.has(token.name))
      throw new UsageError(
        `--${token.name} is given more than once; give it once${
          flags[token.name]?.description.includes('comma-separated')
            ? ' with every value in one comma-separated list (a,b,c)'
            : ''
        }`,
        spec.name,
      );
    seen.add(token.name);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  if (!help) {
    const max = spec.positionals?.max ?? 0;
    if (parsed.positionals.length > max) {
      const extra = parsed.positionals[max];
      throw new UsageError(
        max === 0
          ? `unexpected argument '${extra}': '${spec.name}' takes no arguments`
          : `unexpected argument '${extra}': '${spec.name}' takes ${spec.positionals?.names}`,
        spec.name,
      );
    }
    for (const [name, flag] of Object.entries(spec.flags)) {
      const value = values[name];
      if (flag.type === 'string' && typeof value === 'string' && value.trim() === '') {
        throw new UsageError(`--${name} needs a value`, spec.name);
      }
    }
  }
  const typed: Record<string, string | boolean | undefined> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    typed[name] =
      flag.type === 'boolean' ? values[name] === true : (values[name] as string | undefined)?.trim();
  }
  return { values: typed as FlagValues<F>, positionals: parsed.positionals, help };
}

function describeParseError(error: unknown, spec: CommandSpec<FlagSpecs>): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  const flag = quoted?.replace(/ <value>$/, '');
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag '${flag}' for '${spec.name}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(message)) return `${flag?.split(',').pop()?.trim()} needs a value`;
      return `${flag?.split(',').pop()?.trim() ?? 'a flag'} takes no value`;
    default:
      return message;
  }
}

/** `a,b, c` → ['a','b','c']; a flag given without any id is a usage error. */
export function parseList(flag: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = [...new Set(value.split(',').map((item) => item.trim()))].filter((item) => item !== '');
  if (items.length === 0)
    throw new UsageError(`--${flag} needs at least one device id, like --${flag} dev-1,dev-2`);
  // Ids the inventory cannot hold are reported per id by the sync (valid ones go on); '.' and '..' are refused
  // outright, as they would address the hub itself if they ever reached a URL.
  const dots = items.filter(isDotSegment);
  if (dots.length > 0) throw new UsageError(`--${flag}: ${dots.map((id) => deviceIdProblem(id)).join('; ')}`);
  return items;
}

/** A duration flag in ms, or `fallback` when not given. */
export function parseDurationFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new UsageError(`--${flag}: ${error.message}`);
    throw error;
  }
}

/** A positive integer flag, or undefined when not given. */
export function parseIntegerFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, not '${value}'`);
  }
  return n;
}

/** One-of flag values, e.g. `--overlap skip|buffer-one`. */
export function parseChoiceFlag<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  const found = choices.find((choice) => choice === value.toLowerCase());
  if (!found) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, not '${value}'`);
  return found;
}

/** The help text of a command, from its spec. */
export function renderHelp(spec: CommandSpec<FlagSpecs>): string {
  const flags: FlagSpecs = { ...spec.flags, ...HELP_FLAG };
  const rows = Object.entries(flags).map(([name, flag]) => {
    const left = `${flag.short ? `-${flag.short}, ` : '    '}--${name}${flag.type === 'string' ? ` ${flag.valueName ?? 'VALUE'}` : ''}`;
    return [left, flag.description] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = [
    `Usage: policy-sync ${spec.usage}`,
    '',
    spec.summary,
    '',
    'Flags:',
    ...rows.map(([left, description]) => `  ${left.padEnd(width)}${description}`),
  ];
  for (const note of spec.notes ?? []) lines.push('', note);
  return `${lines.join('\n')}\n`;
}

/** A command: its spec (flags, help) and what it does with the parsed flags. */
export interface Command {
  spec: CommandSpec<FlagSpecs>;
  /** Parses `argv` (after the command's name), prints help or runs; resolves to the exit code. */
  execute(argv: string[], ctx: CommandContext): Promise<number>;
}

export function defineCommand<F extends FlagSpecs>(
  spec: CommandSpec<F>,
  handler: (values: FlagValues<F>, ctx: CommandContext, positionals: string[]) => Promise<number>,
): Command {
  return {
    spec,
    async execute(argv, ctx) {
      const parsed = parseCommand(spec, argv);
      if (parsed.help) {
        ctx.stdout.write(renderHelp(spec));
        return 0;
      }
      try {
        return await handler(parsed.values, ctx, parsed.positionals);
      } catch (error) {
        if (error instanceof UsageError && error.command === undefined)
          throw new UsageError(error.message, spec.name);
        throw error;
      }
    },
  };
}
