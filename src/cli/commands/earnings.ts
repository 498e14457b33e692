import { formatAmount } from '../../core/market/amount.js';
import { MarketKeyRepo } from '../../main/db/repos/market-key-repo.js';
import { ProviderJobsRepo } from '../../main/db/repos/provider-jobs-repo.js';
import { openLedger } from '../../main/ledger.js';
import { defineCommand, table } from '../command-spec.js';
import { parsePositiveInt } from '../errors.js';
import type { CliIo } from '../io.js';

export const earningsSpec = defineCommand({
  name: 'earnings',
  summary: 'what markets paid this node for verified jobs, per day',
  options: {
    days: { type: 'string', valueName: 'N', description: 'days to show, today included (default 7)' },
    json: {
      type: 'boolean',
      description: 'print one JSON object: per-day rows and a total, amounts in micro-CPC as decimal strings',
    },
    'data-dir': { type: 'string', valueName: 'DIR', description: "the node's data directory (default ./node-data)" },
  },
  notes: [
    '`paid` counts every receipt the market sent for a verified job, whatever the local settlement mode; `settled` is the part the ledger applied (real mode).',
    'Credits from the practice market are practice credits, not money: they are labelled so, and `practice` in the JSON says how much of the total they are.',
  ],
});

/** `tessera earnings`: per-day earnings from the job history (read-only; works while the node runs). */
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
    const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const since = today - (days - 1) * 86_400_000;
    const rows = new ProviderJobsRepo(ctx.db).earningsByDay(since);
    const practice = new MarketKeyRepo(ctx.db).practiceEarnings(since);
    const allPractice = practice.jobs > 0 && practice.paid === rows.reduce((a, r) => a + r.paid, 0n);
    const unit = allPractice ? 'practice CPC' : 'CPC';
    const total = rows.reduce(
      (a, r) => ({ jobs: a.jobs + r.jobs, paid: a.paid + r.paid, settled: a.settled + r.settled }),
      { jobs: 0, paid: 0n, settled: 0n },
    );
    if (parsed.values.json) {
      io.stdout(
        `${JSON.stringify({ days: rows.map((r) => ({ day: r.day, jobs: r.jobs, paid: r.paid.toString(), settled: r.settled.toString() })), total: { jobs: total.jobs, paid: total.paid.toString(), settled: total.settled.toString() }, practice: { markets: practice.markets, jobs: practice.jobs, paid: practice.paid.toString(), settled: practice.settled.toString() } })}\n`,
      );
      return 0;
    }
    if (rows.length === 0) io.stdout(`no earnings in the last ${days} day(s)\n`);
    for (const line of table(
      rows.map(
        (r) =>
          [
            r.day,
            `${r.jobs} jobs  paid ${formatAmount(r.paid)} ${unit}  settled ${formatAmount(r.settled)} ${unit}`,
          ] as const,
      ),
    ))
      io.stdout(`${line}\n`);
    io.stdout(
      `total: ${total.jobs} jobs, paid ${formatAmount(total.paid)} ${unit}, settled ${formatAmount(total.settled)} ${unit}\n`,
    );
    if (allPractice)
      io.stdout(
        `practice: all of it came from the local practice market (${practice.markets.join(', ')}): not money\n`,
      );
    else if (practice.jobs > 0)
      io.stdout(
        `practice: ${practice.jobs} jobs, paid ${formatAmount(practice.paid)} CPC of it came from the local practice market (${practice.markets.join(', ')}): practice credits, not money\n`,
      );
    return 0;
  } finally {
    ctx.close();
  }
}
