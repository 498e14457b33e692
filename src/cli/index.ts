import { TesseraError } from '../core/errors.js';
import { CliError } from './errors.js';
import { processIo, type CliIo } from './io.js';

type Command = (argv: string[], io: CliIo) => Promise<number>;

/** Commands load lazily, so `tessera hash` does not pay for the ledger, the market client, etc. */
const commands: Record<string, { load: () => Promise<Command>; usage: string }> = {
  'run-workload': {
    load: async () => (await import('./commands/run-workload.js')).runWorkloadCommand,
    usage: 'tessera run-workload <file.slice> [--workload transcode|inference|gpuhash|synthetic] [--json] [--help for more]',
  },
  hash: {
    load: async () => (await import('./commands/hash.js')).hashCommand,
    usage: 'tessera hash [--threads N] <file|->...   print "<blake3 hex>  <path>" per input, like b3sum',
  },
  courier: {
    load: async () => (await import('./commands/courier.js')).courierCommand,
    usage: 'tessera courier send <bundle> <sender> | flush [--market URL] | list [--pending] [--json]',
  },
  settlement: {
    load: async () => (await import('./commands/settlement.js')).settlementCommand,
    usage: 'tessera settlement status [--json] | mode dry-run|armed --delay S|real | apply <receipts.jsonl> | fund <account> <credits>',
  },
  'price-board': {
    load: async () => (await import('./commands/price-board.js')).priceBoardCommand,
    usage: 'tessera price-board show [--json] | clear   [--data-dir DIR]',
  },
  metrics: {
    load: async () => (await import('./commands/metrics.js')).metricsCommand,
    usage: 'tessera metrics [--data-dir DIR] [--url URL]   print Prometheus metrics once',
  },
};

function usage(): string {
  return `usage: tessera <command> [options]\n\ncommands:\n${Object.values(commands)
    .map((c) => `  ${c.usage.replace(/\n/g, '\n  ')}`)
    .join('\n')}\n`;
}

/** Runs the CLI; returns the exit code. User errors print one line and return 2. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new CliError(`unknown command "${name}" (try: ${Object.keys(commands).join(', ')})`);
    return await (await command.load())(rest, io);
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
    // node:util parseArgs explains at length; keep its first sentence.
    return ((err as Error).message.split(/\.\s|\n/)[0] as string).replace(/^Unknown option/, 'unknown option');
  }
  return undefined;
}

/** Entry point used by the `tessera` binary: runs `main` on process.argv and sets the exit code. */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`tessera: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
