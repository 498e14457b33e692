import { AmountError, formatAmount, parseAmount } from '../../core/market/amount.js';
import { systemClock } from '../../node/clock.js';
import { loadBlake3, nodeSha256 } from '../../node/hash/node-hasher.js';
import { createLogger, jsonLineSink, setLogSink } from '../../node/log.js';
import { DisposableStore } from '../../node/lifecycle.js';
import { createMarketServer, isLoopbackHost } from '../../market/market-server.js';
import { CustomerService } from '../../market/services/customer-service.js';
import { openMarketStore, type MarketStore } from '../../market/store/market-store.js';
import { attachValidator } from '../../market/validator/attach.js';
import {
  DEFAULT_VALIDATOR_CONFIG,
  MAX_STANDBYS,
  VERIFY_MODES,
  type ValidatorConfig,
  type VerifyMode,
} from '../../market/validator/validator-config.js';
import { defineCommand, defineGroup } from '../command-spec.js';
import { CliError, parsePositiveInt } from '../errors.js';
import { untilStopSignal, type CliIo } from '../io.js';

export const DEFAULT_MARKET_DATA_DIR = 'market-data';

const dataDirOption = {
  type: 'string',
  valueName: 'DIR',
  description: `the market's data directory: the embedded store (unless --store), archived courier bundles (default ./${DEFAULT_MARKET_DATA_DIR})`,
} as const;
const storeOption = {
  type: 'string',
  valueName: 'URL',
  description: 'a PostgreSQL server (postgres://…) instead of the embedded store in the data dir',
} as const;

export const marketServeSpec = defineCommand({
  name: 'market',
  summary: 'run the reference task market (HTTP API); `market customer add|list`, `market fund` manage customers',
  options: {
    port: { type: 'string', valueName: 'N', description: 'port to listen on (default 8080)' },
    host: {
      type: 'string',
      valueName: 'ADDR',
      description: 'address to listen on (default 127.0.0.1; anything else prints a warning)',
    },
    'data-dir': dataDirOption,
    store: storeOption,
    'public-url': {
      type: 'string',
      valueName: 'URL',
      description:
        'the URL providers reach this instance at, told to providers of the other instances sharing the store (default: the URL it listens on; docs/market-api.md, "Presence")',
    },
    'verify-mode': {
      type: 'string',
      valueName: 'MODE',
      description: `how checked jobs are verified: ${VERIFY_MODES.join(' | ')} (default ${DEFAULT_VALIDATOR_CONFIG.verifyMode}; docs/market-api.md, "Verify mode")`,
    },
    'verify-fraction': {
      type: 'string',
      valueName: 'F',
      description: `the least fraction of a provider's jobs checked, from 0 to 1; new providers are checked more (default ${DEFAULT_VALIDATOR_CONFIG.checkFraction}; docs/verification.md)`,
    },
    standbys: {
      type: 'string',
      valueName: 'N',
      description: `standby providers named per job, 0 to ${MAX_STANDBYS}: a lost lease goes to the first one still connected instead of back to the queue (default 0; docs/market-api.md, "Standby handover")`,
    },
  },
  notes: [
    'subcommands: tessera market customer add NAME (prints the API key once) | tessera market customer list | tessera market fund NAME AMOUNT (CPC, e.g. 10.0).',
    'The embedded store belongs to one process: stop the market before managing customers in the same data dir, or use a PostgreSQL --store. API: docs/market-api.md.',
  ],
});

export const marketCustomerSpec = defineGroup({
  name: 'market customer',
  summary: "the market's customers",
  subcommands: {
    add: defineCommand({
      name: 'market customer add',
      summary: 'create a customer and print its API key (shown only once)',
      args: { usage: 'NAME', min: 1, max: 1 },
      options: { 'data-dir': dataDirOption, store: storeOption },
    }),
    list: defineCommand({
      name: 'market customer list',
      summary: 'list customers and their balances',
      options: { 'data-dir': dataDirOption, store: storeOption },
    }),
  },
});

export const marketFundSpec = defineCommand({
  name: 'market fund',
  summary: "credit CPC to a customer's balance",
  args: { usage: 'NAME AMOUNT', min: 2, max: 2 },
  options: { 'data-dir': dataDirOption, store: storeOption },
  notes: ['AMOUNT is a decimal CPC string with at most 6 decimals, e.g. 10.0 or 0.000001.'],
});

/** Summary for `tessera --help`. */
export const marketSpec = { summary: marketServeSpec.summary };

function storeUrlOf(value: string | undefined): string | undefined {
  if (value !== undefined && !/^postgres(ql)?:\/\//.test(value)) {
    throw new CliError(
      `--store must be a PostgreSQL URL (postgres://user@host/db or postgres://user@/db?host=/var/run/postgresql), got "${value}"; leave it out for the embedded store`,
    );
  }
  return value;
}

/** `tessera market …`: run the reference market, manage its customers and their funds. */
export async function marketCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'customer') {
    const parsed = marketCustomerSpec.parse(rest);
    if (parsed.help !== undefined) return help(io, parsed.help);
    const { values, positionals } = parsed;
    return withStore(values['data-dir'] ?? DEFAULT_MARKET_DATA_DIR, storeUrlOf(values.store), async (store) => {
      const svc = new CustomerService({ store, clock: systemClock });
      if (parsed.sub === 'add') {
        const { customer, apiKey } = await svc.add(positionals[0] as string);
        io.stdout(`customer ${customer.name} created; its API key (shown only now, store it safely):\n${apiKey}\n`);
        io.stderr('send it as: Authorization: Bearer <key>\n');
        return 0;
      }
      const all = await svc.list();
      if (all.length === 0) io.stdout('no customers\n');
      for (const c of all) io.stdout(`${c.name}  ${formatAmount(await svc.balance(c.customerId))} CPC\n`);
      return 0;
    });
  }
  if (sub === 'fund') {
    const parsed = marketFundSpec.parse(rest);
    if (parsed.help !== undefined) return help(io, parsed.help);
    const [name, amountText] = parsed.positionals as [string, string];
    let amount: bigint;
    try {
      amount = parseAmount(amountText, 'AMOUNT');
    } catch (err) {
      if (err instanceof AmountError) throw new CliError(err.message);
      throw err;
    }
    if (amount === 0n) throw new CliError('AMOUNT: must be more than 0');
    return withStore(
      parsed.values['data-dir'] ?? DEFAULT_MARKET_DATA_DIR,
      storeUrlOf(parsed.values.store),
      async (store) => {
        const balance = await new CustomerService({ store, clock: systemClock }).fund(name, amount);
        io.stdout(`funded ${name} with ${formatAmount(amount)} CPC; balance ${formatAmount(balance)} CPC\n`);
        return 0;
      },
    );
  }
  const parsed = marketServeSpec.parse(argv);
  if (parsed.help !== undefined) return help(io, parsed.help);
  const { values } = parsed;
  const port = values.port === undefined ? 8080 : (parsePositiveInt(values.port, '--port', 65535) as number);
  const verify = {
    ...verifyConfigOf(values['verify-mode'], values['verify-fraction']),
    standbys: standbysOf(values.standbys),
  };
  return serve(io, {
    host: values.host ?? '127.0.0.1',
    port,
    dataDir: values['data-dir'] ?? DEFAULT_MARKET_DATA_DIR,
    storeUrl: storeUrlOf(values.store),
    publicUrl: publicUrlOf(values['public-url']),
    verify,
  });
}

/** `--public-url` checked: an http(s) URL with a host and nothing after the path. */
function publicUrlOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.host === '' || u.search || u.hash)
    throw new CliError(
      `--public-url must be an http:// or https:// URL of this instance (e.g. https://market-2.example.com), got "${value}"`,
    );
  return value.replace(/\/+$/, '');
}

/** `--verify-mode` and `--verify-fraction` as validator settings; a bad value is a usage error naming the flag. */
export function verifyConfigOf(
  mode: string | undefined,
  fraction: string | undefined,
): Pick<ValidatorConfig, 'verifyMode' | 'checkFraction'> {
  if (mode !== undefined && !(VERIFY_MODES as readonly string[]).includes(mode)) {
    throw new CliError(`--verify-mode must be one of ${VERIFY_MODES.join(', ')}, got "${mode}"`);
  }
  let checkFraction = DEFAULT_VALIDATOR_CONFIG.checkFraction;
  if (fraction !== undefined) {
    if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(fraction))
      throw new CliError(`--verify-fraction must be a number from 0 to 1 (e.g. 0.1), got "${fraction}"`);
    checkFraction = Number(fraction);
  }
  return { verifyMode: (mode as VerifyMode | undefined) ?? DEFAULT_VALIDATOR_CONFIG.verifyMode, checkFraction };
}

/** `--standbys N` as a validator setting (a usage error names the flag). */
function standbysOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_VALIDATOR_CONFIG.standbys;
  if (!/^\d{1,2}$/.test(value) || Number(value) > MAX_STANDBYS)
    throw new CliError(`--standbys must be a whole number from 0 to ${MAX_STANDBYS}, got "${value}"`);
  return Number(value);
}

function help(io: CliIo, text: string): number {
  io.stdout(text);
  return 0;
}

async function withStore(
  dataDir: string,
  url: string | undefined,
  fn: (store: MarketStore) => Promise<number>,
): Promise<number> {
  const store = await openMarketStore({ dataDir, ...(url ? { url } : {}) });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function serve(
  io: CliIo,
  o: {
    host: string;
    port: number;
    dataDir: string;
    storeUrl: string | undefined;
    publicUrl: string | undefined;
    verify: Pick<ValidatorConfig, 'verifyMode' | 'checkFraction' | 'standbys'>;
  },
): Promise<number> {
  if (!isLoopbackHost(o.host))
    io.stderr(
      `warning: --host ${o.host} exposes the market beyond this machine; anyone who can reach it can try API keys — put TLS in front of it\n`,
    );
  // The market logs as JSON lines on stderr (stdout keeps the listening line); every internal error once, with its stack.
  setLogSink(jsonLineSink((line) => io.stderr(line)));
  const logger = createLogger('market');
  // Released in reverse order at stop, or at once when start-up fails: every release attempted.
  const resources = new DisposableStore('market', logger);
  let store: MarketStore;
  let url: string;
  try {
    store = resources.add(
      await openMarketStore({ dataDir: o.dataDir, ...(o.storeUrl ? { url: o.storeUrl } : {}) }),
      'store',
    );
    const blake3 = await loadBlake3(logger);
    const server = resources.add(
      await createMarketServer({ store, clock: systemClock, blake3, dataDir: o.dataDir, logger }),
      'HTTP server',
    );
    const validator = resources.add(
      await attachValidator({
        app: server.app,
        store,
        clock: systemClock,
        blake3,
        sha256: nodeSha256,
        config: o.verify,
        logger,
      }),
      'validator',
    );
    url = await server.listen(o.host, o.port);
    // What the other instances sharing the store tell their providers about this one.
    await validator.presence.advertise(o.publicUrl ?? url);
  } catch (err) {
    await resources.dispose();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${o.port} on ${o.host} is in use; choose another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      throw new CliError(`--host ${o.host} is not an address of this machine`);
    throw err;
  }
  io.stdout(
    `market listening on ${url} (store: ${store.kind === 'pglite' ? `embedded, ${store.location}` : store.location}); Ctrl-C stops it\n`,
  );
  io.stdout(
    `verify mode ${o.verify.verifyMode}, ${formatFraction(o.verify.checkFraction)} of jobs checked${o.verify.standbys > 0 ? `; ${o.verify.standbys} standby provider(s) named per job` : ''}\n`,
  );
  await untilStopSignal();
  io.stderr('stopping the market…\n');
  await resources.dispose();
  io.stderr('market stopped\n');
  return 0;
}

function formatFraction(f: number): string {
  return `${Number((f * 100).toFixed(4))}%`;
}
