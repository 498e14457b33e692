import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { reconcileWithMarket } from '../../../src/main/api/earnings.js';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { ProviderJobsRepo } from '../../../src/main/db/repos/provider-jobs-repo.js';
import { fetchMarketBalance } from '../../../src/main/services/market-balance.js';
import { registerErrorHandling } from '../../../src/market/http/error-handler.js';
import type { MarketMetrics } from '../../../src/market/http/metrics.js';
import { courierRoutes } from '../../../src/market/http/routes/courier.js';
import type { CourierInboxService } from '../../../src/market/services/courier-inbox.js';
import type { MarketStore } from '../../../src/market/store/market-store.js';
import { silentLogger } from '../../../src/node/log.js';
import { dispatchContractCall, type ChannelResult } from '../../../src/shared/contract.js';
import { testAppNode } from './fixtures.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');

/** The market's real balance route (src/market/http/routes/courier.ts) over a store holding `balances`. */
async function balanceMarket(balances: Map<string, bigint>): Promise<string> {
  const app: FastifyInstance = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app, silentLogger);
  const store = {
    transaction: async <T>(fn: (tx: unknown) => Promise<T>) =>
      fn({ accounts: { balance: async (account: string) => balances.get(account) ?? 0n } }),
  } as unknown as MarketStore;
  await app.register(courierRoutes, {
    inbox: {} as CourierInboxService,
    store,
    metrics: { registry: new Registry() } as unknown as MarketMetrics,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  onTestFinished(() => app.close());
  return url;
}

/** A paid job (a receipt recorded in `settlement`), a verified one awaiting payment, a pending one. */
function history(repo: ProviderJobsRepo, marketId: string) {
  const job = (id: string, at: number, offer: bigint) => {
    repo.start({
      marketId,
      taskId: `t-${id}`,
      jobId: id,
      epoch: 1,
      workload: 'synthetic',
      bytes: 10,
      startedAt: at,
      offer,
    });
    repo.finished(marketId, id, 1, {
      resultHash: 'aa',
      proof: 'bb',
      backend: 'cpu',
      durationMs: 1,
      result: '{}',
      bytes: 10,
      at,
    });
  };
  job('a', NOW - 1000, 300n);
  repo.answered(marketId, 'a', 1, true, null, NOW - 900);
  repo.recordEarning({
    receiptKey: 'r-a',
    marketId,
    jobId: 'a',
    taskId: 't-a',
    amount: 300n,
    settlement: 'applied',
    at: NOW - 800,
  });
  job('b', NOW - 8 * DAY, 200n);
  repo.answered(marketId, 'b', 1, true, null, NOW - 8 * DAY);
  repo.recordEarning({
    receiptKey: 'r-b',
    marketId,
    jobId: 'b',
    taskId: 't-b',
    amount: 200n,
    settlement: 'recorded',
    at: NOW - 8 * DAY,
  });
  job('c', NOW - 500, 70n);
  repo.answered(marketId, 'c', 1, true, null, NOW - 400);
  job('d', NOW - 300, 11n);
}

describe('earnings:summary', () => {
  it('after a restart, before the node has joined, shows what the history earned (not 0)', async () => {
    const node = await testAppNode({}, () => NOW);
    history(new ProviderJobsRepo(node.ledger.db), 'market-alpha');
    expect(node.status()).toMatchObject({ joined: false, jobs_done: 0 });
    const env = await dispatchContractCall(createAppHandlers(node), 'earnings:summary', [{ days: 7 }]);
    const s = (env as { ok: true; result: ChannelResult<'earnings:summary'> }).result;
    expect(s.market_id).toBe('market-alpha');
    expect(s.practice).toBe(false);
    expect(s.headline).toEqual({
      paid: '500',
      receipts: 2,
      settled: '300',
      settled_receipts: 1,
      awaiting_settlement: '200',
      awaiting_receipts: 1,
    });
    expect(s.periods).toEqual({
      today: { receipts: 1, paid: '300' },
      last_7d: { receipts: 1, paid: '300' },
      all: { receipts: 2, paid: '500' },
    });
    expect(s.on_the_way).toEqual({
      verified: { jobs: 1, offered: '70' },
      pending: { jobs: 1, offered: '11' },
      running: 0,
    });
    expect(s.days.map((d) => d.day)).toEqual([
      '2026-03-04',
      '2026-03-05',
      '2026-03-06',
      '2026-03-07',
      '2026-03-08',
      '2026-03-09',
      '2026-03-10',
    ]);
    expect(s.days.at(-1)).toEqual({ day: '2026-03-10', receipts: 1, paid: '300', settled: '300' });
  });

  it('labels the practice market as practice', async () => {
    const node = await testAppNode({}, () => NOW);
    history(new ProviderJobsRepo(node.ledger.db), 'tessera-practice-market');
    const env = await dispatchContractCall(createAppHandlers(node), 'earnings:summary', [{ days: 1 }]);
    expect(env).toMatchObject({ ok: true, result: { practice: true, market_id: 'tessera-practice-market' } });
  });
});

describe("the market's balance against the receipts", () => {
  it('reads GET /balances/{address} from the market route, and compares: matched, more at the market, less at the market', async () => {
    const node = await testAppNode({}, () => NOW);
    history(new ProviderJobsRepo(node.ledger.db), 'market-alpha');
    const address = node.status().address;
    const balances = new Map<string, bigint>();
    const url = await balanceMarket(balances);
    const market = { id: 'market-alpha', practice: false };
    const check = () => reconcileWithMarket(node.ledger.db, { market, address, url, now: () => NOW });

    balances.set(`worker:${address}`, 500n);
    expect(await fetchMarketBalance(url, address)).toBe(500n);
    expect(await check()).toMatchObject({
      status: 'matched',
      problem: false,
      receipts_total: '500',
      market_balance: '500',
      difference: '0',
    });

    balances.set(`worker:${address}`, 570n);
    const more = await check();
    expect(more).toMatchObject({ status: 'market_more', problem: false, difference: '70' });
    expect(more.explanation).toMatch(/0\.00007 CPC more than your receipts: receipts still on their way/);

    balances.set(`worker:${address}`, 450n);
    const less = await check();
    expect(less).toMatchObject({ status: 'market_less', problem: true, difference: '-50' });
    expect(less.explanation).toMatch(/^The market paid 0\.00005 CPC less than its receipts say/);
  });

  it('an unreachable market or a bad answer is said in one line, and nothing is compared', async () => {
    const node = await testAppNode({}, () => NOW);
    history(new ProviderJobsRepo(node.ledger.db), 'market-alpha');
    const address = node.status().address;
    const url = await balanceMarket(new Map());
    const gone = Fastify({ logger: false });
    const goneUrl = await gone.listen({ host: '127.0.0.1', port: 0 });
    await gone.close();
    const market = { id: 'market-alpha', practice: false };
    const r = await reconcileWithMarket(node.ledger.db, { market, address, url: goneUrl, now: () => NOW });
    expect(r).toMatchObject({ status: 'unreachable', market_balance: null, difference: null, problem: false });
    expect(r.explanation).toMatch(/could not read this node's balance at the market .*ECONNREFUSED/);
    expect(r.explanation).not.toMatch(/\n/);
    await expect(fetchMarketBalance(url, 'not-an-address')).rejects.toMatchObject({
      code: 'MARKET_UNREACHABLE',
      message: expect.stringMatching(/HTTP 400/),
    });
  });
});
