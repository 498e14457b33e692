import { currentMarket } from '../../main/api/earnings.js';
import { openLedger } from '../../main/ledger.js';
import { signerAddress } from '../../node/signing/result-signing.js';
import { defineCommand } from '../command-spec.js';
import { parsePositiveInt } from '../errors.js';
import type { CliIo } from '../io.js';
import { buildEarningsReport, earningsReportLines } from './earnings-report.js';

export const earningsSpec = defineCommand({
  name: 'earnings',
  summary: 'what this node earned at its market, where it stands, and whether the market agrees',
  options: {
    days: { type: 'string', valueName: 'N', description: 'days to list, today included (default 7)' },
    json: {
      type: 'boolean',
      description:
        'print one JSON object {summary, reconciliation}: the same figures as the app, amounts in micro-CPC as decimal strings',
    },
    'market-url': {
      type: 'string',
      valueName: 'URL',
      description: "the market to ask for this node's balance (default: market_url of the data dir's config)",
    },
    offline: { type: 'boolean', description: 'do not ask the market for its balance' },
    'data-dir': { type: 'string', valueName: 'DIR', description: "the node's data directory (default ./node-data)" },
  },
  notes: [
    'Earned = paid by the market (its receipts), for the market of the newest job. settled + awaiting settlement = earned. Verified and pending jobs are on the way, not earned. Days end at midnight UTC. 1 CPC (compute credit) = 1,000,000 micro-CPC; on the practice market they are practice credits, not money.',
    'The market check compares the market\'s GET /balances/{address} with the sum of the receipts: more at the market is normal for a while (receipts on their way, courier rewards); less is a problem (exit status stays 0; look for "PROBLEM").',
  ],
});

/** `tessera earnings`: the earnings summary and the market check (read-only; works while the node runs). */
export async function earningsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = earningsSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const days = parsePositiveInt(parsed.values.days, '--days', 3650) ?? 7;
  const ctx = await openLedger({
    readonly: true,
    ...(parsed.values['data-dir'] ? { dataDir: parsed.values['data-dir'] } : {}),
    verifyReceipts: false,
  });
  try {
    const market = currentMarket(ctx.db);
    const address = ctx.identity.present ? signerAddress(ctx.identity, ctx.blake3) : '';
    // The practice market runs inside the app on a port of its own: there is no URL to ask here.
    const url =
      parsed.values.offline || market.practice || address === ''
        ? null
        : (parsed.values['market-url'] ?? ctx.config.market_url[0] ?? null);
    const report = await buildEarningsReport(ctx.db, { now: () => Date.now(), days, market, address, url });
    if (parsed.values.json) {
      io.stdout(`${JSON.stringify(report)}\n`);
      return 0;
    }
    for (const line of earningsReportLines(report)) io.stdout(`${line}\n`);
    return 0;
  } finally {
    ctx.close();
  }
}
