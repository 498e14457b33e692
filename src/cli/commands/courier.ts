import { parseArgs } from 'node:util';
import { formatBytes } from '../../core/units.js';
import { createLogger, silentLogger } from '../../main/log.js';
import { openLedger } from '../../main/node-context.js';
import { CliError, parsePositiveInt } from '../errors.js';
import { progress, type CliIo } from '../io.js';

export const courierUsage =
  'tessera courier send <bundle> <sender> [--data-dir DIR] [--max-bundle-bytes N]\n' +
  'tessera courier flush [--market URL] [--data-dir DIR] [--max-attempts N] [--verbose]\n' +
  'tessera courier list [--pending] [--json] [--data-dir DIR]';

/** `tessera courier send|flush|list`: carry-to-earn receipts. */
export async function courierCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      'data-dir': { type: 'string' },
      market: { type: 'string' },
      pending: { type: 'boolean' },
      json: { type: 'boolean' },
      'max-attempts': { type: 'string' },
      'max-bundle-bytes': { type: 'string' },
      verbose: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (sub !== 'send' && sub !== 'flush' && sub !== 'list') throw new CliError(`courier needs a subcommand: send, flush or list (got ${sub ? `"${sub}"` : 'none'})`);
  const maxAttempts = parsePositiveInt(values['max-attempts'], '--max-attempts', 100);
  const maxBundleBytes = parsePositiveInt(values['max-bundle-bytes'], '--max-bundle-bytes');
  if (sub === 'send' && positionals.length !== 2) throw new CliError('usage: tessera courier send <bundle> <sender>');
  if (sub !== 'send' && positionals.length > 0) throw new CliError(`courier ${sub} takes no arguments (got "${positionals[0]}")`);

  const ctx = await openLedger({
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    logger: values.verbose ? createLogger() : silentLogger,
    courier: { ...(maxAttempts ? { maxAttempts } : {}), ...(maxBundleBytes ? { maxBundleBytes } : {}) },
  });
  try {
    if (sub === 'send') {
      const r = ctx.courier.send(positionals[0] as string, positionals[1] as string);
      io.stdout(values.json ? `${JSON.stringify(r)}\n` : `stored courier receipt ${r.id} (${formatBytes(r.bytes)}, bundle ${r.bundle_hash.slice(0, 16)}…)\n`);
      return 0;
    }
    if (sub === 'list') {
      for (const r of ctx.courier.list(values.pending ?? false)) {
        if (values.json) io.stdout(`${JSON.stringify({ ...r, reward: r.reward === null ? null : r.reward.toString() })}\n`);
        else io.stdout(`${r.id}  ${r.status.padEnd(12)}  ${String(r.bytes).padStart(10)} B  attempts=${r.attempts}  sender=${r.sender}${r.last_error ? `  last_error=${r.last_error}` : ''}\n`);
      }
      return 0;
    }
    const market = values.market ?? process.env.TESSERA_MARKET_URL ?? ctx.config.market_url;
    const bar = progress(io, 'flushing');
    const s = await ctx.courier.flush(market, (p) => bar.update(`${p.done}/${p.total} receipts`));
    bar.done();
    io.stdout(
      values.json
        ? `${JSON.stringify({ ...s, reward: s.reward.toString() })}\n`
        : `flushed to ${market}: ${s.accepted} accepted, ${s.duplicate} already known, ${s.rejected} rejected, ${s.reward} credits earned; ${s.pending_after} still pending\n`,
    );
    if (s.error) {
      io.stderr(`tessera: ${s.error}; receipts stay pending — run the flush again once that is fixed\n`);
      return 1;
    }
    return 0;
  } finally {
    ctx.close();
  }
}
