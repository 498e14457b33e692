import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { MarketError } from '../../src/market/errors.js';
import { TaskService } from '../../src/market/services/task-service.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { EscrowRepo } from '../../src/market/store/escrow-repo.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { escrowTotal, expectBooksEqual } from '../support/books.js';
import { PG_URL_ENV, pgHarness, pgliteHarness, type StoreHarness } from './store-harness.js';

/**
 * POST /tasks as a group commit (TaskService.commitPosts): payload tasks posted while a group
 * commits wait and commit together, so one customer posting from many clients locks its funds
 * once per group rather than once per task (the hot row of issue 19), and each post is still
 * refused alone when it does not fit.
 */
const T0 = 1_700_000_000_000;
const REWARD = 1_000_000n; // 1 CPC
const url = process.env[PG_URL_ENV];
const root = mkdtempSync(join(tmpdir(), 'tessera-post-group-'));
let dirs = 0;
const harnesses: StoreHarness[] = [pgliteHarness(() => join(root, `store-${dirs++}`))];
if (url) harnesses.push(pgHarness(url));
afterAll(async () => {
  for (const h of harnesses) await h.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** The driver, with a count of its transactions. */
function counting(d: SqlDriver): SqlDriver & { transactions: number } {
  const out = Object.create(d) as SqlDriver & { transactions: number };
  out.transactions = 0;
  out.transaction = (fn) => {
    out.transactions++;
    return d.transaction(fn);
  };
  return out;
}

const body = (i: number) => ({
  challenge_type: 'inference' as const,
  payload: { model_id: 'm', prompt: `post ${i}`, max_tokens: 4 },
  reward: REWARD,
  input: 'payload' as const,
  verification: 'sampled' as const,
});

describe.each(harnesses)('task posts commit in groups ($name)', (h) => {
  async function setUp(fundedTasks: bigint) {
    const driver = counting(await h.open(await h.newLocation()));
    const store = await MarketStore.open(driver);
    const service = new TaskService({ store, clock: { now: () => T0 }, blake3: await loadBlake3() });
    const customer = { customerId: '00000000-0000-4000-8000-000000000001', name: 'poster', createdAt: T0 };
    await store.transaction(async (tx) => {
      await tx.customers.insert({ ...customer, keyHash: 'h-poster' });
      await tx.accounts.post(
        'fund:poster',
        [
          { account: ACCOUNTS.mint, amount: -REWARD * fundedTasks },
          { account: ACCOUNTS.customer(customer.customerId), amount: REWARD * fundedTasks },
        ],
        'fund',
        T0,
      );
    });
    return { driver, store, service, customer };
  }

  it('commits concurrent posts in fewer transactions than posts, each task escrowed once', async () => {
    const { driver, store, service, customer } = await setUp(40n);
    const before = driver.transactions;
    const tasks = await Promise.all(Array.from({ length: 24 }, (_, i) => service.create(customer, body(i))));
    const used = driver.transactions - before;
    // The first post commits alone; the 23 that arrive while it commits share the next group.
    expect(used).toBeLessThan(tasks.length / 4);
    expect(new Set(tasks.map((t) => t.taskId)).size).toBe(24);
    expect(tasks.every((t) => t.status === 'pending' && t.reward === REWARD)).toBe(true);
    expect(await escrowTotal(store)).toBe(24n * REWARD);
    await expectBooksEqual(store);
    await store.close();
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('holds a group its funds cover without locking them first: the funds row is locked by the hold statement alone', async () => {
    const { store, service, customer } = await setUp(40n);
    const lockFunds = vi.spyOn(EscrowRepo.prototype, 'lockFunds');
    const tasks = await Promise.all(Array.from({ length: 16 }, (_, i) => service.create(customer, body(i))));
    expect(tasks.every((t) => t.status === 'pending')).toBe(true);
    // Read-and-lock first (lockFunds) holds the row over every statement of the group's
    // transaction; a covered one-customer group never takes that path.
    expect(lockFunds).not.toHaveBeenCalled();
    expect(await escrowTotal(store)).toBe(16n * REWARD);
    expect(await store.transaction((tx) => tx.accounts.balance(ACCOUNTS.customer(customer.customerId)))).toBe(
      24n * REWARD,
    );
    await expectBooksEqual(store);
    await store.close();
  });

  it('refuses only the posts that do not fit the balance; the others in the group are stored', async () => {
    const { store, service, customer } = await setUp(5n);
    const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => service.create(customer, body(i))));
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(MarketError);
      expect((r.reason as MarketError).code).toBe('INSUFFICIENT_FUNDS');
      expect((r.reason as MarketError).message).toContain('tessera market fund poster');
    }
    const stored = await store.transaction((tx) =>
      tx.tasks.list({ customerId: customer.customerId, limit: 100, offset: 0 }),
    );
    expect(stored.total).toBe(5);
    expect(await escrowTotal(store)).toBe(5n * REWARD);
    expect(await store.transaction((tx) => tx.accounts.balance(ACCOUNTS.customer(customer.customerId)))).toBe(0n);
    await expectBooksEqual(store);
    await store.close();
  });
});
