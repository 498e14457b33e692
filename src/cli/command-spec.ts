import { parseArgs } from 'node:util';
import { CliError } from './errors.js';

/** One flag of a command: what node:util parseArgs needs, plus what `--help` prints. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Placeholder for a string option's value in the help (default VALUE). */
  valueName?: string;
  /** A string option refuses "" unless this is set (an empty --data-dir must not mean the default). */
  allowEmpty?: boolean;
  /** A string option that may be given more than once: its value is every one given, in order. */
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** The positional arguments a command takes. */
export interface ArgsSpec {
  /** As shown in the usage line, e.g. `<bundle> <sender>` or `[file|-]...`. */
  usage: string;
  min: number;
  max: number;
}

export interface CommandDef<O extends OptionSpecs> {
  /** Full command path after `tessera`, e.g. `courier flush`. */
  name: string;
  /** One line: what the command does. */
  summary: string;
  args?: ArgsSpec;
  options: O;
  /** Paragraphs printed after the options (inputs, exit codes, examples). */
  notes?: string[];
}

/** The parsed values, typed from the option definitions. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K] extends { multiple: true } ? string[] : string;
};

export interface ParsedCommand<O extends OptionSpecs> {
  help?: undefined;
  values: OptionValues<O>;
  positionals: string[];
  /**
   * For each positional, its bytes as the operating system passed them when they are not
   * valid UTF-8 (the string in `positionals` then holds U+FFFD where the bytes were); else undefined.
   */
  rawPositionals: (Buffer | undefined)[];
}

/** `--help` was asked for: print `help` on stdout and exit 0. */
export interface HelpRequest {
  help: string;
}

/** Raw bytes of each argument, aligned with the argv a command receives (see raw-argv.ts). */
export type RawArgs = readonly (Buffer | undefined)[];

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };

/** A command whose parser and help both come from one definition. */
export interface CommandSpec<O extends OptionSpecs> {
  readonly def: CommandDef<O>;
  readonly summary: string;
  /** The usage line's arguments, e.g. `send <bundle> <sender>` (used in a group's listing). */
  readonly synopsis: string;
  help(): string;
  /** Parses argv (after the command name); throws a one-line CliError on bad input. */
  parse(argv: readonly string[], raw?: RawArgs): ParsedCommand<O> | HelpRequest;
}

/** Defines a command: the parseArgs configuration and the `--help` text come from `def`. */
export function defineCommand<const O extends OptionSpecs>(def: CommandDef<O>): CommandSpec<O> {
  const options: OptionSpecs = { ...def.options, help: HELP_OPTION };
  const args = def.args ?? { usage: '', min: 0, max: 0 };
  const last = def.name.split(' ').at(-1) as string;
  return {
    def,
    summary: def.summary,
    synopsis: [last, args.usage].filter(Boolean).join(' '),
    help: () => commandHelp(def, options),
    parse(argv, raw) {
      const { args: prepared, origin } = joinNegativeValues(argv, options);
      let parsed: ReturnType<typeof parseArgs>;
      try {
        parsed = parseArgs({
          args: prepared,
          options: Object.fromEntries(
            Object.entries(options).map(([k, o]) => [
              k,
              { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
            ]),
          ),
          allowPositionals: true,
          strict: true,
          tokens: true,
        });
      } catch (err) {
        throw parseArgsError(err, def.name);
      }
      const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
      if (values.help === true) return { help: commandHelp(def, options) };
      delete values.help;
      for (const [name, o] of Object.entries(def.options)) {
        const v = values[name];
        if (o.type === 'string' && (v === '' || (Array.isArray(v) && v.includes(''))) && !o.allowEmpty)
          throw new CliError(`--${name} must not be empty`);
      }
      const positionals = parsed.positionals;
      if (positionals.length > args.max) {
        const extra = positionals
          .slice(args.max)
          .map((p) => `"${p}"`)
          .join(' ');
        const takes = args.max === 0 ? 'takes no arguments' : `takes ${args.usage}`;
        throw new CliError(
          `tessera ${def.name}: unexpected argument${positionals.length - args.max > 1 ? 's' : ''} ${extra} (it ${takes})`,
        );
      }
      if (positionals.length < args.min) {
        throw new CliError(
          `tessera ${def.name} needs ${args.usage} (got ${plural(positionals.length, 'argument')}); see tessera ${def.name} --help`,
        );
      }
      const rawPositionals = (parsed.tokens ?? [])
        .filter((t) => t.kind === 'positional')
        .map((t) => raw?.[origin[t.index] as number]);
      return { values: values as OptionValues<O>, positionals, rawPositionals };
    },
  };
}

/** A command made of subcommands (`tessera courier send|flush|list`). */
export interface GroupSpec<S extends Record<string, CommandSpec<OptionSpecs>>> {
  readonly name: string;
  readonly summary: string;
  readonly subcommands: S;
  help(): string;
  /** Parses `<subcommand> [options] [args]`; a missing or unknown subcommand is a one-line CliError. */
  parse(argv: readonly string[], raw?: RawArgs): ParsedSubcommand<S> | HelpRequest;
}

/** Values of every subcommand's options (each subcommand accepts only its own at run time). */
type MergedValues<S extends Record<string, CommandSpec<OptionSpecs>>> = OptionValues<
  UnionToIntersection<S[keyof S]['def']['options']> & OptionSpecs
>;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

export interface ParsedSubcommand<S extends Record<string, CommandSpec<OptionSpecs>>> {
  help?: undefined;
  sub: keyof S & string;
  values: MergedValues<S>;
  positionals: string[];
  rawPositionals: (Buffer | undefined)[];
}

export function defineGroup<const S extends Record<string, CommandSpec<OptionSpecs>>>(def: {
  name: string;
  summary: string;
  subcommands: S;
  notes?: string[];
}): GroupSpec<S> {
  const names = Object.keys(def.subcommands);
  const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  const help = () => groupHelp(def);
  return {
    name: def.name,
    summary: def.summary,
    subcommands: def.subcommands,
    help,
    parse(argv, raw) {
      const [sub, ...rest] = argv;
      if (sub === '--help' || sub === '-h') return { help: help() };
      if (sub === undefined)
        throw new CliError(`tessera ${def.name} needs a subcommand: ${list} (see tessera ${def.name} --help)`);
      const spec = Object.hasOwn(def.subcommands, sub) ? def.subcommands[sub] : undefined;
      if (!spec)
        throw new CliError(
          `unknown ${def.name} subcommand "${sub}" (expected ${list}; see tessera ${def.name} --help)`,
        );
      const parsed = spec.parse(rest, raw?.slice(1));
      if (parsed.help !== undefined) return parsed;
      return { ...parsed, sub, values: parsed.values as MergedValues<S> };
    },
  };
}

/**
 * parseArgs reads `--threads -1` as a missing value ("ambiguous"); a value that is a negative
 * number is joined to its flag (`--threads=-1`) so the flag's own check can say what is allowed.
 * `origin[i]` is the index in argv of prepared argument i.
 */
function joinNegativeValues(argv: readonly string[], options: OptionSpecs): { args: string[]; origin: number[] } {
  const byShort = new Map(Object.entries(options).flatMap(([k, o]) => (o.short ? [[o.short, k] as const] : [])));
  const args: string[] = [];
  const origin: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      for (let j = i; j < argv.length; j++) {
        args.push(argv[j] as string);
        origin.push(j);
      }
      break;
    }
    const long = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? byShort.get(a.slice(1)) : undefined;
    const next = argv[i + 1];
    if (long !== undefined && options[long]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      args.push(`--${long}=${next}`);
      origin.push(i);
      i++;
      continue;
    }
    args.push(a);
    origin.push(i);
  }
  return { args, origin };
}

/** One line for node:util parseArgs's multi-line explanations, naming the flag. */
function parseArgsError(err: unknown, command: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) return err;
  const message = (err as Error).message;
  const flag = /--[\w-]+/.exec(message)?.[0] ?? /'(-[^' ,]+)/.exec(message)?.[1] ?? 'an option';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /^Unknown option '([^']*)'/.exec(message)?.[1] ?? flag;
    return new CliError(`unknown option '${option}' for tessera ${command} (see tessera ${command} --help)`);
  }
  if (/ambiguous/.test(message))
    return new CliError(`${flag} needs a value; to give one that starts with "-", write ${flag}=VALUE`);
  if (/argument missing/.test(message)) return new CliError(`${flag} needs a value`);
  if (/does not take an argument/.test(message)) return new CliError(`${flag} takes no value`);
  return new CliError((message.split(/\.\s|\n/)[0] as string).trim());
}

function commandHelp(def: CommandDef<OptionSpecs>, options: OptionSpecs): string {
  const args = def.args?.usage ? ` ${def.args.usage}` : '';
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, o.description] as const;
  });
  return [
    `usage: tessera ${def.name}${args} [options]`,
    '',
    def.summary,
    '',
    'options:',
    ...table(rows),
    ...(def.notes ?? []).flatMap((n) => ['', n]),
    '',
  ].join('\n');
}

function groupHelp(def: {
  name: string;
  summary: string;
  subcommands: Record<string, CommandSpec<OptionSpecs>>;
  notes?: string[];
}): string {
  const rows = Object.values(def.subcommands).map((s) => [s.synopsis, s.def.summary] as const);
  return [
    `usage: tessera ${def.name} <subcommand> [options]`,
    '',
    def.summary,
    '',
    'subcommands:',
    ...table(rows),
    ...(def.notes ?? []).flatMap((n) => ['', n]),
    '',
    `Run \`tessera ${def.name} <subcommand> --help\` for its options.`,
    '',
  ].join('\n');
}

/** Two aligned columns; a long first column puts its description on the next line. */
export function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.min(Math.max(...rows.map(([a]) => a.length), 0), 34);
  return rows.flatMap(([a, b]) =>
    a.length > width ? [`  ${a}`, `  ${' '.repeat(width)}  ${b}`] : [`  ${a.padEnd(width)}  ${b}`],
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
