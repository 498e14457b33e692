import { AmountError, formatAmount, parseAmount } from '../../core/market/amount.js';
import type { ComputeChannel } from '../../main/gpu/compute-client.js';
import { DEFAULT_DATA_DIR } from '../../main/data-dir.js';
import { openDawnChannel } from '../../main/gpu/dawn-host.js';
import type { ProviderService, ProviderStatus } from '../../main/services/provider-service.js';
import { startProviderNode, type ProviderNode } from '../../hosts/provider-node.js';
import { systemClock } from '../../node/clock.js';
import { DisposableStore } from '../../node/lifecycle.js';
import { jsonLineSink, silentLogger, sinkLogger, type Logger } from '../../node/log.js';
import { defineCommand } from '../command-spec.js';
import { CliError, parsePositiveInt } from '../errors.js';
import { parseMarketUrls } from '../../main/services/market-endpoints.js';
import { TesseraError } from '../../core/errors.js';
import { untilStopSignal, type CliIo } from '../io.js';

export const provideSpec = defineCommand({
  name: 'provide',
  summary: 'join a market as a provider: run its jobs, return signed results, record what it pays',
  options: {
    market: {
      type: 'string',
      valueName: 'URL[,URL…]',
      multiple: true,
      description:
        'the market, e.g. http://127.0.0.1:8080 (required); several instances of one market: repeat --market or separate URLs with commas — the node fails over among them',
    },
    'data-dir': {
      type: 'string',
      valueName: 'DIR',
      description: "the node's data directory: identity, ledger, job history (default ./node-data)",
    },
    threads: {
      type: 'string',
      valueName: 'N',
      description: 'CPU threads announced to the market (default: cores − 1)',
    },
    ask: {
      type: 'string',
      valueName: 'CPC',
      description:
        'lowest offer per job to take, decimal CPC (default 0: every offer; the ask never rises by itself, since an ask read from the offers this node was given only ever climbs)',
    },
  },
  notes: [
    'On a terminal one status line shows the connection, jobs done and credits today; otherwise one JSON line per change goes to stdout.',
    'Ctrl-C stops taking jobs, finishes or reports the ones in flight, and closes. `tessera earnings --data-dir DIR` reads what it earned.',
  ],
});

/** `--market` values (each may be a comma-separated list) as checked URLs; a bad one is a one-line usage error naming it. */
export function marketUrlsOption(values: readonly string[]): string[] {
  try {
    return parseMarketUrls(values, '--market');
  } catch (err) {
    if (err instanceof TesseraError) throw new CliError(err.message);
    throw err;
  }
}

/** One status line (TTY). */
export function statusLine(s: ProviderStatus): string {
  const label = s.practice ? ' [PRACTICE MARKET — local, not real credits]' : '';
  const via = s.endpoint && s.state === 'connected' ? `  via ${s.endpoint}` : '';
  return `${s.state}${label}${via}  ${s.address}  jobs done ${s.jobsDone}  running ${s.running}  rejected ${s.jobsRejected}  credits today ${formatAmount(s.creditsToday)} ${s.practice ? 'practice CPC (not money)' : 'CPC'}${s.draining ? '  (stopping…)' : ''}`;
}

/** `tessera provide`: run a provider node until Ctrl-C. */
export async function provideCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = provideSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { values } = parsed;
  if (!values.market || values.market.length === 0)
    throw new CliError('tessera provide needs --market URL (the market to join, e.g. http://127.0.0.1:8080)');
  const market = marketUrlsOption(values.market);
  const threads = parsePositiveInt(values.threads, '--threads', 4096);
  let ask: bigint | undefined;
  try {
    ask = values.ask === undefined ? undefined : parseAmount(values.ask, '--ask');
  } catch (err) {
    if (err instanceof AmountError) throw new CliError(err.message);
    throw err;
  }
  const provider = await startProvider({
    market,
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    threads: threads ?? null,
    ...(ask !== undefined ? { ask } : {}),
    logger: io.isTty
      ? silentLogger
      : sinkLogger(
          jsonLineSink((l) => io.stderr(l)),
          { module: 'provide' },
        ),
    openGpuHost: () => openDawnChannel(),
    metricsPort: null,
  });
  return runUntilSignal(io, [provider]);
}

export interface StartProviderOptions {
  /** The market's URLs, tried in order (one instance or several of the same market). */
  market: string | readonly string[];
  dataDir: string;
  /** --threads; null: automatic (cores − 1). */
  threads: number | null;
  /** micro-CPC; absent: the price board's suggested bid. */
  ask?: bigint;
  logger: Logger;
  /** Dawn in a worker thread for the CLI; null: no GPU host. */
  openGpuHost: (() => ComputeChannel) | null;
  /** Overrides config.toml's metrics_port (0: none); null: the config's. */
  metricsPort: number | null;
}

/** A provider joined to its market, on a node of its own. */
export interface RunningProvider {
  node: ProviderNode;
  service: ProviderService;
  /** Stops taking jobs, finishes or reports the ones in flight, closes the socket, then the node and its ledger. */
  stop(timeoutMs?: number): Promise<void>;
}

/** What `tessera provide` (and each node of `tessera practice`) runs: the one provider node, and its provider joined to `market`. */
export async function startProvider(o: StartProviderOptions): Promise<RunningProvider> {
  const resources = new DisposableStore('provider', o.logger);
  const node = resources.add(
    await startProviderNode({
      dataDir: o.dataDir,
      clock: systemClock,
      logger: o.logger,
      openGpuHost: o.openGpuHost,
      metricsPort: o.metricsPort,
      settings: () => ({ threads: o.threads, gpu_enabled: true }),
    }),
    'provider node',
  );
  let drainMs: number | undefined;
  try {
    const service = node.createProvider(o.market, o.ask !== undefined ? { ask: o.ask } : {});
    resources.add(() => service.drain(drainMs), 'market provider');
    service.start();
    return {
      node,
      service,
      stop(timeoutMs) {
        drainMs = timeoutMs;
        return resources.dispose();
      },
    };
  } catch (err) {
    await resources.dispose().catch(() => undefined);
    throw err;
  }
}

/** Shows status (a line on a TTY, JSON lines otherwise) until SIGINT/SIGTERM, then drains every provider. */
export async function runUntilSignal(
  io: CliIo,
  providers: readonly RunningProvider[],
  onStop: () => Promise<void> = async () => undefined,
): Promise<number> {
  const offs = providers.map((n) =>
    n.service.onDidChange((s) => {
      if (io.isTty) io.stderr(`\r\x1b[2K${statusLine(s)}`);
      else
        io.stdout(
          `${JSON.stringify({ msg: 'provider status', ...s, creditsToday: s.creditsToday.toString(), lastPrices: undefined })}\n`,
        );
    }),
  );
  await untilStopSignal();
  if (io.isTty) io.stderr('\n');
  io.stderr('stopping: finishing the jobs in flight…\n');
  for (const off of offs) off();
  await Promise.all(providers.map((n) => n.stop()));
  await onStop();
  io.stderr('stopped\n');
  return 0;
}
