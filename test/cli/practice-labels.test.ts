import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { statusLine } from '../../src/cli/commands/provide.js';
import { MarketKeyRepo } from '../../src/main/db/repos/market-key-repo.js';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import { openLedger } from '../../src/main/ledger.js';
import { providerStatus } from '../support/provider-status.js';
import { signedReceipt, TEST_MARKET, testMarketSigner } from '../main/ledger-fixtures.js';
import { tempDir } from '../support/temp-dir.js';
import { tessera } from './run.js';

describe('practice credits are labelled as practice in the CLI', () => {
  it('tessera earnings and tessera settlement status say the practice market’s credits are not money', async () => {
    const dd = join(tempDir(), 'node');
    const ctx = await openLedger({ dataDir: dd });
    // What the first welcome from the practice market leaves behind: its key pinned, marked practice.
    new MarketKeyRepo(ctx.db).pin(TEST_MARKET, testMarketSigner.nodeId, true, Date.now());
    ctx.settlement.setMode('real');
    const r = signedReceipt('job-1', 250_000n);
    expect(ctx.settlement.verify(r).ok).toBe(true);
    const outcome = ctx.settlement.apply(r);
    new ProviderJobsRepo(ctx.db).recordEarning({
      receiptKey: r.idempotency_key,
      marketId: TEST_MARKET,
      jobId: r.job_id,
      taskId: '0190c7a6-0000-7000-8000-000000000001',
      amount: r.quote_price,
      settlement: outcome.outcome,
      at: Date.now(),
    });
    ctx.close();

    const earnings = tessera(['earnings', '--offline', '--data-dir', dd]);
    expect(earnings.code).toBe(0);
    expect(earnings.stdout).toMatch(
      /^earned at test-market \(practice market: practice credits, not money\): 0\.25 practice credits \(1 paid jobs, all time\)\n/,
    );
    expect(earnings.stdout).toMatch(/settled in your ledger +0\.25 practice credits/);
    const json = JSON.parse(tessera(['earnings', '--json', '--offline', '--data-dir', dd]).stdout) as {
      summary: { practice: boolean; headline: { paid: string } };
    };
    expect(json.summary).toMatchObject({ practice: true, headline: { paid: '250000' } });
    const status = tessera(['settlement', 'status', '--data-dir', dd]).stdout;
    expect(status).toMatch(/ {2}market:test-market {2}-250000 {2}\(practice market: practice credits, not money\)\n/);
    expect(status).toMatch(/practice: receipts from market:test-market are practice credits/);
  });

  it('the status line of tessera practice says its credits are practice credits', () => {
    const s = providerStatus({ address: 'cpc1x', marketId: 'p', practice: true, jobsDone: 1, creditsToday: 250_000n });
    expect(statusLine(s)).toMatch(/credits today 0\.25 practice CPC \(not money\)$/);
    expect(statusLine({ ...s, practice: false })).toMatch(/credits today 0\.25 CPC$/);
  });
});
