import { formatBytes } from '../../core/units.js';
import { createLogger, silentLogger } from '../../node/log.js';
import { openLedger } from '../../main/ledger.js';
import { defineCommand, defineGroup } from '../command-spec.js';
import { parsePositiveInt } from '../errors.js';
import { progress, type CliIo } from '../io.js';
import { MAX_COURIER_BUNDLE_BYTES } from '../../shared/courier-protocol.js';
import { DEFAULT_MARKET_URL } from '../../shared/defaults.js';
import { DEFAULT_MAX_RECEIPT_FAILURES } from '../../main/services/courier-service.js';
import { EXIT_INCOMPLETE } from './settlement.js';

const dataDirOption = {
  type: 'string',
  valueName: 'DIR',
  description: "the node's data directory (default ./node-data)",
} as const;
const freshLedgerOption = {
  type: 'boolean',
  description:
    'start a new, empty ledger in a data dir that has an identity or bundles but no ledger.db (history there is lost)',
} as const;

export const courierSpec = defineGroup({
  name: 'courier',
  summary: 'carry-to-earn: store bundles you carried, forward their receipts to the market, list them',
  subcommands: {
    send: defineCommand({
      name: 'courier send',
      summary: 'store a carried bundle and a pending receipt for it',
      args: { usage: '<bundle> <sender>', min: 2, max: 2 },
      options: {
        'data-dir': dataDirOption,
        'fresh-ledger': freshLedgerOption,
        'max-bundle-bytes': {
          type: 'string',
          valueName: 'N',
          description: `refuse a bundle larger than N bytes, 1 to ${MAX_COURIER_BUNDLE_BYTES} (what one request can carry; default: courier_max_bundle_bytes in config.toml)`,
        },
        json: { type: 'boolean', description: 'print the stored receipt as JSON' },
      },
    }),
    flush: defineCommand({
      name: 'courier flush',
      summary:
        'forward pending receipts to the market; rewards land in the ledger (as pending movements while settlement is dry-run)',
      options: {
        market: {
          type: 'string',
          valueName: 'URL',
          description: 'the market (default: TESSERA_MARKET_URL, else market_url in config.toml)',
        },
        'data-dir': dataDirOption,
        'fresh-ledger': freshLedgerOption,
        'max-attempts': {
          type: 'string',
          valueName: 'N',
          description: 'tries per batch while the market is unreachable, 1 to 100',
        },
        verbose: { type: 'boolean', description: 'log each attempt on stderr' },
        json: { type: 'boolean', description: 'print the summary as JSON' },
      },
      notes: [
        `a receipt that fails on its own (bundle missing, unreadable or too large; reward the ledger refuses) is held back without stopping the rest, and after ${DEFAULT_MAX_RECEIPT_FAILURES} such failures becomes failed (see courier list, courier retry).`,
        `exit status: 0 when the market answered for every receipt; 1 when it could not be reached or refused the flush (the receipts stay pending); ${EXIT_INCOMPLETE} when some receipts stay pending or failed because the market did not answer for them or they were held back — the summary is printed either way; 2 bad input.`,
      ],
    }),
    retry: defineCommand({
      name: 'courier retry',
      summary: 'put a failed courier receipt back in the queue (after fixing what made it fail)',
      args: { usage: '<id>', min: 1, max: 1 },
      options: { 'data-dir': dataDirOption },
    }),
    list: defineCommand({
      name: 'courier list',
      summary: 'list stored courier receipts, one per line (failed ones with their reason)',
      options: {
        pending: { type: 'boolean', description: 'only receipts not yet acknowledged by the market' },
        json: { type: 'boolean', description: 'one JSON object per line' },
        'data-dir': dataDirOption,
      },
    }),
  },
});

/** `tessera courier send|flush|list`: carry-to-earn receipts. */
export async function courierCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = courierSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { sub, values, positionals } = parsed;
  const maxAttempts = parsePositiveInt(values['max-attempts'], '--max-attempts', 100);
  const maxBundleBytes = parsePositiveInt(values['max-bundle-bytes'], '--max-bundle-bytes', MAX_COURIER_BUNDLE_BYTES);

  const ctx = await openLedger({
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    readonly: sub === 'list', // inspection never writes
    ...(values['fresh-ledger'] ? { allowFreshLedger: true } : {}),
    logger: values.verbose ? createLogger('courier') : silentLogger,
    courier: { ...(maxAttempts ? { maxAttempts } : {}), ...(maxBundleBytes ? { maxBundleBytes } : {}) },
  });
  try {
    if (sub === 'send') {
      const r = ctx.courier.send(positionals[0] as string, positionals[1] as string);
      io.stdout(
        values.json
          ? `${JSON.stringify(r)}\n`
          : `stored courier receipt ${r.id} (${formatBytes(r.bytes)}, bundle ${r.bundle_hash.slice(0, 16)}…)\n`,
      );
      return 0;
    }
    if (sub === 'retry') {
      const r = ctx.courier.retry(positionals[0] as string);
      io.stdout(`courier receipt ${r.id} is pending again; run \`tessera courier flush\` to send it\n`);
      return 0;
    }
    if (sub === 'list') {
      for (const r of ctx.courier.list(values.pending ?? false)) {
        if (values.json)
          io.stdout(`${JSON.stringify({ ...r, reward: r.reward === null ? null : r.reward.toString() })}\n`);
        else {
          const why = r.last_error
            ? r.status === 'failed'
              ? `  reason=${r.last_error}`
              : `  last_error=${r.last_error}`
            : '';
          io.stdout(
            `${r.id}  ${r.status.padEnd(12)}  ${String(r.bytes).padStart(10)} B  attempts=${r.attempts}  sender=${r.sender}${why}\n`,
          );
        }
      }
      return 0;
    }
    const market = values.market ?? process.env.TESSERA_MARKET_URL ?? ctx.config.market_url[0] ?? DEFAULT_MARKET_URL;
    const bar = progress(io, 'flushing');
    const s = await ctx.courier.flush(market, (p) => bar.update(`${p.done}/${p.total} receipts`));
    bar.done();
    io.stdout(
      values.json
        ? `${JSON.stringify({ ...s, reward: s.reward.toString(), reward_pending: s.reward_pending.toString() })}\n`
        : `flushed to ${market}: ${s.accepted} accepted, ${s.duplicate} already known, ${s.rejected} rejected, ${s.reward} credits earned${
            s.reward_pending > 0n ? ` (${s.reward_pending} pending until settlement is real)` : ''
          }; ${s.unanswered} not answered, ${s.held_back} held back (${s.failed} now failed); ${s.pending_after} still pending\n`,
    );
    if (s.error) {
      io.stderr(`tessera: ${s.error}; receipts stay pending — run the flush again once that is fixed\n`);
      return 1;
    }
    if (s.unanswered > 0)
      io.stderr(
        `tessera: the market did not answer for ${s.unanswered} receipt(s); they stay pending for the next flush\n`,
      );
    if (s.held_back > 0)
      io.stderr(
        `tessera: ${s.held_back} receipt(s) held back by a problem of their own (see \`tessera courier list\`)\n`,
      );
    return s.unanswered + s.held_back > 0 ? EXIT_INCOMPLETE : 0;
  } finally {
    ctx.close();
  }
}
