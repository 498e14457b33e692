import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Receipt } from '../../src/core/ledger/receipt.js';
import { openSettlement, receipt } from './ledger-fixtures.js';

type Op =
  | { op: 'fund'; account: string; amount: bigint }
  | { op: 'apply'; index: number }
  | { op: 'mode'; mode: 'dry_run' | 'real' }
  | { op: 'arm'; delaySeconds: number }
  | { op: 'advance'; ms: number }
  | { op: 'restart' };

const POOL: Receipt[] = [
  receipt('j0', 10n, 'b1', 'p1'),
  receipt('j1', 25n, 'b1', 'p2'),
  receipt('j2', 0n, 'b2', 'p1'),
  receipt('j3', 60n, 'b2', 'p2'),
  receipt('j4', 5n, 'p1', 'b1'),
  receipt('j5', 80n, 'b1', 'p1'),
];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('fund' as const),
    account: fc.constantFrom('b1', 'b2', 'p1'),
    amount: fc.bigInt({ min: 1n, max: 100n }),
  }),
  fc.record({ op: fc.constant('apply' as const), index: fc.integer({ min: 0, max: POOL.length - 1 }) }),
  fc.record({ op: fc.constant('apply' as const), index: fc.integer({ min: 0, max: POOL.length - 1 }) }),
  fc.record({ op: fc.constant('mode' as const), mode: fc.constantFrom('dry_run' as const, 'real' as const) }),
  fc.record({ op: fc.constant('arm' as const), delaySeconds: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2500 }) }),
  fc.constant({ op: 'restart' as const }),
);

/** The obvious in-memory model of settlement. */
class Model {
  mode: 'dry_run' | 'real' | 'armed' = 'dry_run';
  activateAt = 0;

  /** Armed turns Real once its time has come; Real applies what dry-run recorded. */
  promote(now: number) {
    if (this.mode === 'armed' && now >= this.activateAt) this.mode = 'real';
    if (this.mode === 'real') this.applyPending();
  }
  balances = new Map<string, bigint>();
  status = new Map<string, 'recorded' | 'applied' | 'archived'>();
  /** Receipts recorded in dry-run, in order, waiting for Real. */
  pending: Receipt[] = [];

  setMode(mode: 'dry_run' | 'real') {
    this.mode = mode;
    if (mode === 'real') this.applyPending();
  }

  private applyPending() {
    while (this.mode === 'real' && this.pending.length > 0) this.settle(this.pending.shift() as Receipt);
  }

  /** Moves the credits of one receipt, or archives it and reverts to dry-run. */
  private settle(r: Receipt): 'applied' | 'failed' {
    const have = this.balances.get(r.buyer) ?? 0n;
    if (have < r.quote_price) {
      this.status.set(r.idempotency_key, 'archived');
      this.mode = 'dry_run';
      return 'failed';
    }
    this.balances.set(r.buyer, have - r.quote_price);
    this.balances.set(r.provider, (this.balances.get(r.provider) ?? 0n) + r.quote_price);
    this.status.set(r.idempotency_key, 'applied');
    return 'applied';
  }

  fund(account: string, amount: bigint) {
    this.balances.set(account, (this.balances.get(account) ?? 0n) + amount);
  }

  apply(r: Receipt, now: number): string {
    this.promote(now);
    if (this.status.has(r.idempotency_key)) return 'duplicate';
    this.status.set(r.idempotency_key, 'recorded');
    if (this.mode !== 'real') {
      this.pending.push(r);
      return 'recorded';
    }
    return this.settle(r);
  }
}

describe('settlement against an in-memory model (property)', () => {
  it('agrees on outcomes, balances, mode (incl. Armed) and receipt states across duplicates, failures and restarts', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const dir = mkdtempSync(join(tmpdir(), 'tessera-prop-'));
        const clock = { now: 1 };
        let s = openSettlement(dir, clock);
        const model = new Model();
        try {
          for (const op of ops) {
            if (op.op === 'fund') {
              s.service.fund(op.account, op.amount);
              model.fund(op.account, op.amount);
            } else if (op.op === 'apply') {
              const r = POOL[op.index] as Receipt;
              expect(s.service.apply(r).outcome).toBe(model.apply(r, clock.now));
            } else if (op.op === 'mode') {
              s.service.setMode(op.mode);
              model.setMode(op.mode);
            } else if (op.op === 'arm') {
              s.service.arm(op.delaySeconds);
              model.mode = 'armed';
              model.activateAt = clock.now + op.delaySeconds * 1000;
            } else if (op.op === 'advance') {
              clock.now += op.ms;
            } else {
              s.close();
              s = openSettlement(dir, clock);
            }
            model.promote(clock.now);
            const status = s.service.status();
            expect(status.mode).toBe(model.mode);
            const actual = Object.fromEntries(
              status.balances.filter((b) => b.balance !== '0').map((b) => [b.account, b.balance]),
            );
            const expected = Object.fromEntries(
              [...model.balances].filter(([, v]) => v !== 0n).map(([k, v]) => [k, v.toString()]),
            );
            expect(actual).toEqual(expected);
            const counts = { recorded: 0, applied: 0, archived: 0 };
            for (const st of model.status.values()) counts[st]++;
            expect(status.receipts).toEqual(counts);
          }
          expect(s.service.checkLedger().ok).toBe(true);
        } finally {
          s.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 80 },
    );
  });
});
