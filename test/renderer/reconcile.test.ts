import { describe, expect, it } from 'vitest';
import { jobStage, STAGE_WORDS, earningsCards } from '../../src/renderer/app/lib/earnings.js';
import { explainMarketCheck } from '../../src/renderer/app/lib/reconcile.js';
import type { EarningsSummary, JobRow, MarketReconciliationInfo } from '../../src/shared/contract.js';

const check = (over: Partial<MarketReconciliationInfo>): MarketReconciliationInfo => ({
  market_id: 'm',
  practice: false,
  address: 'cpc1x',
  receipts_total: '1000000',
  receipts: 2,
  market_balance: '1000000',
  difference: '0',
  status: 'matched',
  problem: false,
  explanation: 'matches',
  checked_at: 0,
  ...over,
});

describe('the market check as the Dashboard shows it', () => {
  it('matched is ok; more at the market is information; less is a problem; unreachable is muted', () => {
    expect(explainMarketCheck(check({})).tone).toBe('ok');
    expect(explainMarketCheck(check({ status: 'market_more', difference: '5' })).tone).toBe('info');
    const less = explainMarketCheck(check({ status: 'market_less', difference: '-5', problem: true }));
    expect(less.tone).toBe('problem');
    expect(less.title).toMatch(/paid less/);
    expect(explainMarketCheck(check({ status: 'unreachable', market_balance: null })).tone).toBe('muted');
  });
});

describe('job stages', () => {
  const row = (over: Partial<JobRow>): Pick<JobRow, 'status' | 'paid' | 'settled'> => ({
    status: 'accepted',
    paid: false,
    settled: false,
    ...over,
  });
  it('a verified job without a receipt is "verified · awaiting payment", not a paid-looking ✓ with 0 CPC', () => {
    expect(jobStage(row({}))).toBe('verified');
    expect(STAGE_WORDS[jobStage(row({}))]).toBe('verified · awaiting payment');
    expect(jobStage(row({ paid: true }))).toBe('paid');
    expect(jobStage(row({ paid: true, settled: true }))).toBe('settled');
    expect(jobStage(row({ status: 'submitted' }))).toBe('pending');
  });
});

describe('earnings cards', () => {
  it('come from the summary alone: the headline is paid, settled + awaiting add up to it', () => {
    const s: EarningsSummary = {
      market_id: 'm',
      practice: true,
      day_boundary: 'UTC',
      today_start: 0,
      headline: {
        paid: '1025000',
        receipts: 3,
        settled: '1000000',
        settled_receipts: 2,
        awaiting_settlement: '25000',
        awaiting_receipts: 1,
      },
      periods: {
        today: { receipts: 1, paid: '25000' },
        last_7d: { receipts: 3, paid: '1025000' },
        all: { receipts: 3, paid: '1025000' },
      },
      on_the_way: { verified: { jobs: 1, offered: '5' }, pending: { jobs: 2, offered: '7' }, running: 0 },
      not_paid: { rejected: 0, lost: 0 },
      days: [],
      recent_jobs: { bytes: null, ms: null, offer: null, arrivals_per_hour: null },
    };
    const c = earningsCards(s);
    expect(c.earned).toBe('1025000');
    expect(BigInt(c.settled) + BigInt(c.awaitingSettlement)).toBe(BigInt(c.earned));
    expect(c.verifiedOffered).toBe('5');
  });
});
