import { describe, expect, it } from 'vitest';
import { explainDay, explainReconciliation, type ReconDay } from '../../src/renderer/app/lib/reconcile.js';

const day = (over: Partial<ReconDay> = {}): ReconDay => ({
  day: '2026-12-02',
  submitted: 10,
  verified: 10,
  rejected: 0,
  lost: 0,
  paid: '1000000',
  settled: '1000000',
  unsettled: '0',
  mismatches: [],
  ...over,
});

describe('reconciliation explanations', () => {
  it('a day where everything lines up is balanced, with no issues', () => {
    const v = explainDay(day());
    expect(v.balanced).toBe(true);
    expect(v.issues).toEqual([]);
    expect(v.expected).toBe(10);
  });

  it('lost jobs: expected counts them, and the gap is explained', () => {
    const v = explainDay(
      day({
        submitted: 8,
        verified: 8,
        lost: 2,
        mismatches: [
          {
            kind: 'lost',
            count: 2,
            explanation: 'these jobs were not finished in time (timed out, or the node stopped), so they were not paid',
          },
        ],
      }),
    );
    expect(v.expected).toBe(10);
    expect(v.balanced).toBe(false);
    expect(v.issues).toHaveLength(1);
    expect(v.issues[0]?.kind).toBe('lost');
    expect(v.issues[0]?.text).toBe(
      '2 jobs were taken but never submitted: These jobs were not finished in time (timed out, or the node stopped), so they were not paid.',
    );
  });

  it('rejected results and results still waiting are told apart', () => {
    const v = explainDay(day({ submitted: 10, verified: 6, rejected: 1 }));
    const kinds = v.issues.map((i) => i.kind);
    expect(kinds).toEqual(['rejected', 'awaiting']);
    expect(v.issues[0]?.text).toMatch(/^1 result was rejected: /);
    expect(v.issues[0]?.severity).toBe('warn');
    expect(v.issues[1]?.text).toMatch(/^3 results are still waiting for the market to verify them/);
    expect(v.issues[1]?.severity).toBe('info');
  });

  it('credits paid but not settled (dry run) name the amount and the receipts', () => {
    const v = explainDay(
      day({
        settled: '400000',
        unsettled: '600000',
        mismatches: [
          {
            kind: 'unsettled',
            count: 6,
            explanation:
              'receipts recorded while settlement is dry-run: paid by the market, not yet credited in your ledger',
          },
        ],
      }),
    );
    expect(v.issues).toHaveLength(1);
    expect(v.issues[0]?.text).toBe(
      '0.600000 CPC paid but not settled (6 receipts): Receipts recorded while settlement is dry-run: paid by the market, not yet credited in your ledger. Switch settlement to Real to credit them.',
    );
  });

  it('every mismatch the node reports shows up, even without its own explanation', () => {
    const v = explainDay(day({ submitted: 5, verified: 3, rejected: 2, lost: 1, settled: '0', unsettled: '1000000' }));
    expect(v.issues.map((i) => i.kind).sort()).toEqual(['lost', 'rejected', 'unsettled']);
    for (const i of v.issues) expect(i.text.length).toBeGreaterThan(40);
  });

  it('sorts days newest first', () => {
    const out = explainReconciliation({
      days: [day({ day: '2026-11-30' }), day({ day: '2026-12-02' }), day({ day: '2026-12-01' })],
    });
    expect(out.map((d) => d.day)).toEqual(['2026-12-02', '2026-12-01', '2026-11-30']);
  });
});
