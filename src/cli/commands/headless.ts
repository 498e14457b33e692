import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DATA_DIR } from '../../main/data-dir.js';
import { DEFAULT_HEADLESS_PORT, startHeadless } from '../../hosts/headless/headless-server.js';
import { isLoopbackHost } from '../../hosts/headless/access.js';
import { jsonLineSink, sinkLogger, type Logger, type LogLevel } from '../../node/log.js';
import { defineCommand } from '../command-spec.js';
import { CliError } from '../errors.js';
import { marketUrlsOption } from './provide.js';
import { untilStopSignal, type CliIo } from '../io.js';
import { cliVersion } from '../version.js';

export const headlessSpec = defineCommand({
  name: 'headless',
  summary: 'run the node with its web UI on http://127.0.0.1:7420 (no desktop app needed); prints the URL to open',
  options: {
    port: {
      type: 'string',
      valueName: 'P',
      description: `port for the web UI and its API (default ${DEFAULT_HEADLESS_PORT}; 0: any free port)`,
    },
    host: {
      type: 'string',
      valueName: 'H',
      description:
        'interface to listen on (default 127.0.0.1); anything else makes the UI reachable from other machines (a warning is printed)',
    },
    'data-dir': {
      type: 'string',
      valueName: 'DIR',
      description: `the node's data directory, as for tessera provide (default ./${DEFAULT_DATA_DIR})`,
    },
    market: {
      type: 'string',
      valueName: 'URL[,URL…]',
      multiple: true,
      description:
        'the market to provide to (default: the market URL setting; with none, a practice market runs in this process); several instances of one market: repeat --market or separate URLs with commas — the node fails over among them',
    },
    'no-join': { type: 'boolean', description: 'do not join the market at start (join from the UI)' },
    'no-gpu': { type: 'boolean', description: 'do not open the GPU (CPU hashing only), whatever the GPU setting says' },
  },
  notes: [
    'On start one line goes to stdout: "Tessera is running: http://127.0.0.1:PORT/?token=TOKEN". Open it in a browser; the token (kept 0600 in DIR/headless-token, the same at every start) is exchanged for a session cookie. Without it every page and the API answer 401.',
    'The web UI comes from `npm run build` (out/renderer). Log lines go to stderr (JSON when stderr is not a terminal). Ctrl-C or SIGTERM stops taking jobs, finishes or reports the ones in flight, saves the price board and closes the ledger (exit 0).',
    'The practice market is local and its credits are not real; its data lives in DIR/practice-market.',
  ],
});

/** The built renderer: beside the bundled CLI (out/cli → out/renderer), or out/renderer from the source tree. */
export function defaultRendererDir(): string {
  const candidates = [
    fileURLToPath(new URL('../renderer', import.meta.url)),
    fileURLToPath(new URL('../../../out/renderer', import.meta.url)),
  ];
  // Not built: name the folder `npm run build` writes (beside the bundle, or out/ of the source tree).
  return (
    candidates.find((d) => existsSync(`${d}/index.html`)) ??
    (candidates[import.meta.url.endsWith('.ts') ? 1 : 0] as string)
  );
}

/** A port number 0–65535 (0: any free port). */
export function parsePort(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new CliError(`${flag} must be a port from 0 to 65535 (0: any free port), got "${value}"`);
  return Number(value);
}

/** On a terminal only warnings and errors, as readable lines; otherwise JSON lines. */
function cliLogger(io: CliIo): Logger {
  if (!io.isTty)
    return sinkLogger(
      jsonLineSink((l) => io.stderr(l)),
      { module: 'headless' },
    );
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (level !== 'warn' && level !== 'error') return;
    const detail =
      fields && Object.keys(fields).length > 0
        ? ` ${JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`
        : '';
    io.stderr(`tessera: ${level}: ${msg}${detail}\n`);
  };
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

/** `tessera headless`: the node, the practice market when none is configured, and the web UI, until Ctrl-C. */
export async function headlessCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = headlessSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { values } = parsed;
  const port = parsePort(values.port, '--port') ?? DEFAULT_HEADLESS_PORT;
  const market = values.market === undefined ? undefined : marketUrlsOption(values.market);
  const host = values.host ?? '127.0.0.1';
  const logger = cliLogger(io);
  const stop = untilStopSignal();
  const server = await startHeadless({
    port,
    host,
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    ...(market !== undefined ? { market } : {}),
    join: values['no-join'] !== true,
    ...(values['no-gpu'] === true ? { gpu: false } : {}),
    rendererDir: defaultRendererDir(),
    logger,
    info: { name: 'Tessera', version: cliVersion(), platform: process.platform },
  });
  if (!isLoopbackHost(host))
    io.stderr(
      `tessera: warning: --host ${host} makes the UI reachable from other machines; anyone with the token URL can control this node\n`,
    );
  io.stdout(`Tessera is running: ${server.url}\n`);
  await stop;
  io.stderr('stopping: finishing the jobs in flight…\n');
  await server.close();
  io.stderr('stopped\n');
  return 0;
}
