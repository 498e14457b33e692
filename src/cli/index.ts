import { TesseraError } from '../core/errors.js';
import { table, type RawArgs } from './command-spec.js';
import { CliError } from './errors.js';
import { createProcessIo, type CliIo } from './io.js';
import { rawArgBytes } from './raw-argv.js';
import { cliVersion } from './version.js';

/** A command's entry point: argv after the command name; `raw` holds the bytes of non-UTF-8 arguments. */
export type Command = (argv: string[], io: CliIo, raw?: RawArgs) => Promise<number>;

interface CommandModule {
  summary: string;
  run: Command;
}

/** Commands load lazily, so `tessera hash` does not pay for the ledger, the market client, etc. */
const commands: Record<string, () => Promise<CommandModule>> = {
  'run-workload': async () => {
    const m = await import('./commands/run-workload.js');
    return { summary: m.runWorkloadSpec.summary, run: m.runWorkloadCommand };
  },
  hash: async () => {
    const m = await import('./commands/hash.js');
    return { summary: m.hashSpec.summary, run: m.hashCommand };
  },
  courier: async () => {
    const m = await import('./commands/courier.js');
    return { summary: m.courierSpec.summary, run: m.courierCommand };
  },
  settlement: async () => {
    const m = await import('./commands/settlement.js');
    return { summary: m.settlementSpec.summary, run: m.settlementCommand };
  },
  'price-board': async () => {
    const m = await import('./commands/price-board.js');
    return { summary: m.priceBoardSpec.summary, run: m.priceBoardCommand };
  },
  metrics: async () => {
    const m = await import('./commands/metrics.js');
    return { summary: m.metricsSpec.summary, run: m.metricsCommand };
  },
  doctor: async () => {
    const m = await import('./commands/doctor.js');
    return { summary: m.doctorSpec.summary, run: m.doctorCommand };
  },
  market: async () => {
    const m = await import('./commands/market.js');
    return { summary: m.marketSpec.summary, run: m.marketCommand };
  },
  provide: async () => {
    const m = await import('./commands/provide.js');
    return { summary: m.provideSpec.summary, run: m.provideCommand };
  },
  practice: async () => {
    const m = await import('./commands/practice.js');
    return { summary: m.practiceSpec.summary, run: m.practiceCommand };
  },
  'market-key': async () => {
    const m = await import('./commands/market-key.js');
    return { summary: m.marketKeySpec.summary, run: m.marketKeyCommand };
  },
  earnings: async () => {
    const m = await import('./commands/earnings.js');
    return { summary: m.earningsSpec.summary, run: m.earningsCommand };
  },
  headless: async () => {
    const m = await import('./commands/headless.js');
    return { summary: m.headlessSpec.summary, run: m.headlessCommand };
  },
};

/** Documented exit statuses, shared by every command. */
export const EXIT_STATUS_NOTE =
  'exit status: 0 done; 1 the operation could not be carried out (the market was unreachable or refused it); ' +
  '2 bad input (an unknown flag or subcommand, a missing or unreadable file, a bad config value, a damaged or locked ledger); ' +
  '3 it ran but left something undone (a receipt failed or conflicted, the market did not answer for some receipts), ' +
  "with the summary printed. A command's --help lists its own. Output cut short by its reader (`| head`) is a normal end.";

async function usage(): Promise<string> {
  const loaded = await Promise.all(
    Object.entries(commands).map(async ([name, load]) => [name, (await load()).summary] as const),
  );
  return [
    'usage: tessera <command> [options]',
    '',
    'The Tessera provider node: hash job slices, carry bundles, settle receipts.',
    '',
    'commands:',
    ...table(loaded),
    '',
    'options:',
    ...table([
      ['-h, --help', "show this help; `tessera <command> --help` shows a command's own"],
      ['-V, --version', 'print the version'],
    ]),
    '',
    EXIT_STATUS_NOTE,
    '',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. User errors print one line and return their exit code (2 unless stated). */
export async function main(argv: string[], io: CliIo, raw?: RawArgs): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h') {
      io.stdout(await usage());
      return 0;
    }
    if (name === '--version' || name === '-V') {
      if (rest.length > 0) throw new CliError(`tessera --version takes no arguments (got "${rest[0]}")`);
      io.stdout(`tessera ${cliVersion()}\n`);
      return 0;
    }
    if (name === 'help') {
      const [topic, ...extra] = rest;
      if (extra.length > 0) throw new CliError(`tessera help takes one command name (got "${extra.join(' ')}")`);
      return await main(topic === undefined ? ['--help'] : [topic, '--help'], io);
    }
    const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!load) {
      throw new CliError(
        name.startsWith('-')
          ? `unknown option '${name}' (options go after the command; see tessera --help)`
          : `unknown command "${name}" (try: ${Object.keys(commands).join(', ')})`,
      );
    }
    return await (await load()).run(rest, io, raw?.slice(1));
  } catch (err) {
    const message = describeError(err);
    if (message === undefined) throw err;
    io.stderr(`tessera: ${message}\n`);
    return err instanceof TesseraError ? err.exitCode : 2;
  }
}

/** One line for errors a user can fix; undefined for bugs (which keep their stack). */
function describeError(err: unknown): string | undefined {
  if (err instanceof TesseraError) return err.message;
  const code = (err as { code?: string } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    // A command parsing without command-spec.ts: keep the first sentence of node:util's explanation.
    return ((err as Error).message.split(/\.\s|\n/)[0] as string).replace(/^Unknown option/, 'unknown option');
  }
  return undefined;
}

/** Entry point used by the `tessera` binary: runs `main` on process.argv and sets the exit code. */
export function runCli(): void {
  const io = createProcessIo();
  const argv = process.argv.slice(2);
  main(argv, io, rawArgBytes(argv)).then(
    (code) => {
      process.exitCode = io.stdoutError() && code === 0 ? 1 : code;
    },
    (err: unknown) => {
      io.stderr(`tessera: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
