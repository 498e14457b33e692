import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import { sql } from '../../src/main/db/sql.js';
import type { Ledger } from '../../src/main/ledger.js';
import { balance, postTask, startMarket, type Market } from '../support/market.js';
import { signal, startProvider, whenNode, type Provider } from '../support/provider.js';
import { tempDir } from '../support/temp-dir.js';

/** One inference task of reward 1.0: a single job paying the provider 250,000 micro-CPC. */
async function postOne(m: Market, prompt: string): Promise<void> {
  const r = await postTask(m, {
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt, max_tokens: 1 },
    reward: '1.0',
  });
  expect(r.status).toBe(201);
}

/** What the receipts say was settled, and what `tessera earnings` says was settled. */
function settledFigures(ledger: Ledger): { receipts: bigint; earnings: bigint; earningRows: number } {
  let receipts = 0n;
  for (const row of ledger.db.all<{ payload: string }>(sql`SELECT payload FROM receipts WHERE status = 'applied'`))
    receipts += BigInt((JSON.parse(row.payload) as { quote_price: string }).quote_price);
  const days = new ProviderJobsRepo(ledger.db).earningsByDay(0);
  return {
    receipts,
    earnings: days.reduce((n, d) => n + d.settled, 0n),
    earningRows: days.reduce((n, d) => n + d.jobs, 0),
  };
}

function earned(p: Provider): bigint {
  return new ProviderJobsRepo(p.ledger.db).earningsByDay(0)[0]?.paid ?? 0n;
}

describe('the money path through the provider node', () => {
  it('"Switch to Real" on the practice market settles the receipts dry-run recorded: the market account is an issuer', async () => {
    const dir = tempDir('tessera-money-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 0, practice: true }, { marketId: 'practice-1' });
    const p = await startProvider(m.base, join(dir, 'p'));
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      await postOne(m, 'dry run first');
      await whenNode(p, 'receipt recorded', () => earned(p) === 250_000n);
      expect(p.ledger.settlement.status()).toMatchObject({
        mode: 'dry_run',
        receipts: { recorded: 1, applied: 0, archived: 0 },
      });

      const change = p.ledger.settlement.changeMode('real');
      expect(change.pending).toEqual({ applied: 1, failed: [], reverted: false });
      expect(change.mode.kind).toBe('real');
      const status = p.ledger.settlement.status();
      expect(status.markets).toEqual([{ market_id: 'practice-1', practice: true, key: m.validator.marketKey }]);
      expect(status.receipts).toEqual({ recorded: 0, applied: 1, archived: 0 });
      expect(status.balances).toEqual(
        expect.arrayContaining([
          { account: 'market:practice-1', balance: '-250000' },
          { account: p.address, balance: '250000' },
        ]),
      );
      expect(p.ledger.settlement.checkLedger().ok).toBe(true);
      // The earnings row follows its receipt: settled, as the ledger says.
      expect(settledFigures(p.ledger)).toEqual({ receipts: 250_000n, earnings: 250_000n, earningRows: 1 });
      // The market's own account of the provider says the same.
      expect(await balance(m, `worker:${p.address}`)).toBe(250_000n);

      // In real mode a new receipt settles at once.
      await postOne(m, 'real now');
      await whenNode(p, 'second receipt', () => earned(p) === 500_000n);
      expect(settledFigures(p.ledger)).toEqual({ receipts: 500_000n, earnings: 500_000n, earningRows: 2 });
    } finally {
      await p.close();
      await m.close();
    }
  });

  it('a crash between settling a receipt and recording its earning leaves both or neither; after a restart the figures agree', async () => {
    const dir = tempDir('tessera-money-crash-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 0 });
    const data = join(dir, 'p');
    const crashed = signal();
    let armed = true;
    const setup = await startProvider(m.base, data, {});
    // Real mode: the receipt is applied by the ledger (the case `tessera earnings` under-reported).
    setup.ledger.settlement.setMode('real');
    await setup.close();
    const first = await startProvider(
      m.base,
      data,
      {},
      {
        faults: (point) => {
          // The settlement's commit point, right before the earnings row is written.
          if (armed && point === 'settle.batch.committed') {
            armed = false;
            crashed.resolve();
            throw new Error('injected crash after the settlement committed');
          }
        },
      },
    );
    try {
      await whenNode(first, 'connected', () => first.service.status().state === 'connected');
      await postOne(m, 'crash');
      await crashed.promise;
      // Both or neither: the receipt's settlement rolled back with the missing earnings row.
      expect(settledFigures(first.ledger)).toEqual({ receipts: 0n, earnings: 0n, earningRows: 0 });
      expect(first.ledger.settlement.status().receipts).toEqual({ recorded: 0, applied: 0, archived: 0 });
    } finally {
      await first.close();
    }
    // Restart: the market sends the unacknowledged receipt again at the join.
    const again = await startProvider(m.base, data);
    try {
      await whenNode(again, 'receipt recorded after restart', () => earned(again) === 250_000n);
      expect(settledFigures(again.ledger)).toEqual({ receipts: 250_000n, earnings: 250_000n, earningRows: 1 });
    } finally {
      await again.close();
      await m.close();
    }
  });
});
