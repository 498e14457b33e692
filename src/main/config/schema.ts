import { isAbsolute, normalize, sep, win32 } from 'node:path';
import { z } from 'zod';
import { DEFAULT_MARKET_URL } from '../../shared/defaults.js';
import { MAX_MARKET_URLS } from '../services/market-endpoints.js';
import { DEFAULT_DEFER_MAX_SECS } from '../../core/pricing/admission.js';
import { U64_MAX } from '../../core/pricing/lanes.js';
import { DEFAULT_PRICE_BOARD_WINDOW, MAX_PRICE_BOARD_WINDOW } from '../../core/pricing/price-board.js';

/**
 * One key of `config.toml`: how to validate it, its default, and the sentence an error uses
 * to say what is allowed. TOML integers arrive as bigint (the file is parsed with
 * `integersAsBigInt`), so integer schemas start from `z.bigint()`.
 */
export interface ConfigKey<T> {
  schema: z.ZodType<T>;
  default: T;
  /** Completes "KEY must be …" in error messages. */
  allowed: string;
  /** One line for docs and `--help`. */
  doc: string;
}

function key<T>(spec: ConfigKey<T>): ConfigKey<T> {
  return spec;
}

/** A TOML integer within [min, max], as a JS number. */
function intIn(min: number, max: number): z.ZodType<number> {
  return z.bigint().min(BigInt(min)).max(BigInt(max)).transform(Number);
}

/** An http(s) URL. */
const httpUrl = z.string().refine((u) => {
  try {
    return ['http:', 'https:'].includes(new URL(u).protocol);
  } catch {
    return false;
  }
});

/** Files and folders of the data directory that no setting may point a file at. */
const RESERVED = /^(config\.toml|ledger\.db(-wal|-shm|-journal)?|identity\.pem|bundles)([/\\]|$)/;

/** A path relative to the data directory that stays inside it and does not hit the node's own files. */
const relativePath: z.ZodType<string> = z
  .string()
  .min(1)
  .refine((p) => !RESERVED.test(normalize(p)), 'reserved')
  .refine((p) => !p.includes('\0') && !isAbsolute(p) && !win32.isAbsolute(p), 'absolute')
  .refine((p) => {
    const n = normalize(p);
    return n !== '.' && n !== '..' && !n.startsWith(`..${sep}`) && !n.endsWith(sep);
  }, 'outside');

/**
 * Every key `config.toml` may contain. To add a setting, add an entry here: loading,
 * defaults, the unknown-key check, error messages and the `NodeConfig` type follow from it.
 */
export const CONFIG_SCHEMA = {
  price_board_path: key({
    schema: relativePath,
    default: 'state/price_board.v1.bin',
    allowed:
      'a file path relative to the data directory that stays inside it and is not config.toml, ledger.db, identity.pem or bundles/, such as "state/price_board.v1.bin"',
    doc: 'where the price board is saved, relative to the data directory',
  }),
  price_board_window: key({
    schema: intIn(1, MAX_PRICE_BOARD_WINDOW),
    default: DEFAULT_PRICE_BOARD_WINDOW,
    allowed: `an integer from 1 to ${MAX_PRICE_BOARD_WINDOW}`,
    doc: 'recent prices kept per lane for the quantile bands',
  }),
  price_board_save_interval: key({
    schema: intIn(1, 86_400),
    default: 30,
    allowed: 'a whole number of seconds from 1 to 86400',
    doc: 'seconds between price board saves (it is also saved on shutdown)',
  }),
  comfort_threshold_p90: key({
    schema: z.bigint().min(0n).max(U64_MAX),
    default: 1_000n,
    allowed: 'a non-negative integer fee (credit minor units)',
    doc: 'admission turns tight when the p90 fee of queued consumer jobs rises above this',
  }),
  consumer_age_p95_limit_secs: key({
    schema: intIn(1, 86_400),
    default: 30,
    allowed: 'a whole number of seconds from 1 to 86400',
    doc: 'admission turns tight when the 95th percentile wait of queued consumer jobs exceeds this',
  }),
  comfort_recovery_percent: key({
    schema: intIn(1, 100),
    default: 90,
    allowed: 'an integer percent from 1 to 100',
    doc: 'admission returns to loose only once both signals are at or below this percent of their limits…',
  }),
  comfort_recovery_secs: key({
    schema: intIn(0, 86_400),
    default: 60,
    allowed: 'a whole number of seconds from 0 to 86400',
    doc: '…and have stayed there this many seconds',
  }),
  capacity_window_secs: key({
    schema: intIn(1, 86_400),
    default: 60,
    allowed: 'a whole number of seconds from 1 to 86400',
    doc: 'providers count toward capacity for this long after their last report',
  }),
  mempool_max_jobs: key({
    schema: intIn(1, 1_000_000),
    default: 10_000,
    allowed: 'an integer from 1 to 1000000',
    doc: 'queued jobs each lane holds at most',
  }),
  industrial_max_deferred: key({
    schema: intIn(0, 1_000_000),
    default: 1_000,
    allowed: 'an integer from 0 to 1000000',
    doc: 'deferred industrial jobs held at most',
  }),
  industrial_defer_max_secs: key({
    schema: intIn(1, 86_400),
    default: DEFAULT_DEFER_MAX_SECS,
    allowed: 'a whole number of seconds from 1 to 86400',
    doc: 'a deferred industrial job not admitted within this many seconds is dropped and rejected DEFER_EXPIRED',
  }),
  market_url: key({
    schema: z.union([httpUrl.transform((u): readonly string[] => [u]), z.array(httpUrl).min(1).max(MAX_MARKET_URLS)]),
    default: [DEFAULT_MARKET_URL],
    allowed: `an http(s) URL such as "http://127.0.0.1:7070", or a list of 1 to ${MAX_MARKET_URLS} of them (instances of one market, tried in order)`,
    doc: 'the market this node talks to, or several instances of it (courier flushes go to the first: {market_url}/courier/receipts)',
  }),
  metrics_port: key({
    schema: intIn(0, 65_535),
    default: 9464,
    allowed: 'a TCP port from 1 to 65535, or 0 to serve no metrics',
    doc: 'while the node runs, Prometheus metrics are served at http://127.0.0.1:PORT/metrics',
  }),
  courier_max_bundle_bytes: key({
    // Bundles travel base64-encoded inside one JSON request, which bounds them well below a JS string's limit.
    schema: intIn(1, 64 << 20),
    default: 16 << 20,
    allowed: 'a size in bytes from 1 to 67108864 (64 MiB)',
    doc: 'largest bundle `courier send` accepts',
  }),
  courier_batch_size: key({
    schema: intIn(1, 1000),
    default: 100,
    allowed: 'an integer from 1 to 1000',
    doc: 'courier receipts forwarded per request',
  }),
  courier_backoff_base_ms: key({
    schema: intIn(1, 600_000),
    default: 250,
    allowed: 'a whole number of milliseconds from 1 to 600000',
    doc: 'first retry delay of a courier flush (doubles each attempt, full jitter)',
  }),
  courier_backoff_cap_ms: key({
    schema: intIn(1, 3_600_000),
    default: 30_000,
    allowed: 'a whole number of milliseconds from 1 to 3600000',
    doc: 'longest retry delay of a courier flush',
  }),
  courier_max_attempts: key({
    schema: intIn(1, 100),
    default: 6,
    allowed: 'an integer from 1 to 100',
    doc: 'attempts per batch before a flush gives up (receipts stay pending)',
  }),
  courier_request_timeout_ms: key({
    schema: intIn(100, 600_000),
    default: 30_000,
    allowed: 'a whole number of milliseconds from 100 to 600000',
    doc: 'timeout of one courier flush request',
  }),
} as const;

export type ConfigKeyName = keyof typeof CONFIG_SCHEMA;

/** The node's settings, fully validated, every key present. */
export type NodeConfig = {
  readonly [K in ConfigKeyName]: (typeof CONFIG_SCHEMA)[K] extends ConfigKey<infer T> ? T : never;
};
