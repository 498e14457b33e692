import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitReward } from '../../src/core/market/payout.js';
import { ACCOUNTS, AccountsRepo } from '../../src/market/store/accounts-repo.js';
import type { SqlConn, SqlDriver } from '../../src/market/store/driver.js';
import { EscrowRepo } from '../../src/market/store/escrow-repo.js';
import { MarketStore, type MarketTx } from '../../src/market/store/market-store.js';
import { MARKET_MIGRATIONS } from '../../src/market/store/migrations.js';
import { sql } from '../../src/market/store/sql.js';
import { TasksRepo } from '../../src/market/store/tasks-repo.js';
import { expectBooksEqual, escrowTotal } from '../support/books.js';
import { seededRandom } from '../support/data.js';
import { PG_URL_ENV, pgHarness, pgliteHarness, type StoreHarness } from './store-harness.js';

const T0 = 1_700_000_000_000;
const url = process.env[PG_URL_ENV];
const root = mkdtempSync(join(tmpdir(), 'tessera-escrow-'));
let dirs = 0;
const harnesses: StoreHarness[] = [pgliteHarness(() => join(root, `store-${dirs++}`))];
if (url) harnesses.push(pgHarness(url));
afterAll(async () => {
  for (const h of harnesses) await h.cleanup();
  rmSync(root, { recursive: true, force: true });
});

const task = (taskId: string, customerId: string, reward: bigint): Parameters<TasksRepo['insert']>[0] => ({
  taskId,
  customerId,
  challengeType: 'synthetic',
  payload: { matrix_size: 8, iterations: 1 },
  reward,
  deadline: null,
  status: 'pending',
  inputKind: 'payload',
  gpuRequired: false,
  lane: 'consumer',
  createdAt: T0,
});

/** A customer with `funds` micro-CPC from mint, through the store's own repos. */
async function addCustomer(tx: MarketTx, funds: bigint): Promise<string> {
  const id = randomUUID();
  expect(await tx.customers.insert({ customerId: id, name: `c-${id}`, keyHash: `h-${id}`, createdAt: T0 })).toBe(true);
  expect(
    await tx.accounts.post(
      `fund:${id}`,
      [
        { account: ACCOUNTS.mint, amount: -funds },
        { account: ACCOUNTS.customer(id), amount: funds },
      ],
      'fund',
      T0,
    ),
  ).toBe(true);
  return id;
}

/** POST /tasks' transaction: the task row and its escrow hold. */
async function post(store: MarketStore, customerId: string, reward: bigint): Promise<string> {
  const taskId = randomUUID();
  await store.transaction(async (tx) => {
    await tx.tasks.insert(task(taskId, customerId, reward));
    if (!(await tx.escrow.hold(taskId, customerId, reward, T0))) throw new Error(`no funds for ${taskId}`);
  });
  return taskId;
}

/** The hold as the market did it before migration 9: the customer's funds into the one `escrow` account. */
async function oldHold(c: SqlConn, taskId: string, customerId: string, amount: bigint): Promise<void> {
  await new TasksRepo(c).insert(task(taskId, customerId, amount));
  expect(
    await new AccountsRepo(c).post(
      `escrow:${taskId}`,
      [
        { account: ACCOUNTS.customer(customerId), amount: -amount },
        { account: ACCOUNTS.legacyEscrow, amount },
      ],
      'escrow',
      T0,
    ),
  ).toBe(true);
  await c.query(
    sql`INSERT INTO escrows (task_id, customer_id, amount, status, created_at) VALUES (${taskId}, ${customerId}, ${amount}, 'held', ${T0})`,
  );
}

const BEFORE_9 = MARKET_MIGRATIONS.filter((m) => m.id < 9);

for (const h of harnesses) {
  describe(`escrow per customer: migration 9 (${h.name})`, () => {
    /** A store at the schema before migration 9, with customers and tasks escrowed in the single account. */
    async function oldStore(): Promise<{ loc: string; a: string; b: string; idle: string; held: Map<string, bigint> }> {
      const loc = await h.newLocation();
      const driver = await h.open(loc);
      const store = await MarketStore.open(driver, BEFORE_9);
      const held = new Map<string, bigint>();
      try {
        // Before migration 9 a customer had one account; customers.insert now also makes escrow:<id>, removed here.
        const [a, b, idle] = await store.transaction(async (tx) => [
          await addCustomer(tx, 10_000_000n),
          await addCustomer(tx, 10_000_000n),
          await addCustomer(tx, 5n),
        ]);
        await driver.transaction(async (c) => {
          await c.query(sql`DELETE FROM accounts WHERE account_id LIKE 'escrow:%'`);
          const refunded = randomUUID();
          await oldHold(c, randomUUID(), a, 3_000_000n);
          await oldHold(c, randomUUID(), a, 1_500_000n);
          await oldHold(c, randomUUID(), b, 700_001n);
          await oldHold(c, refunded, b, 250_000n);
          // A refund as it was then: the one escrow account back to the customer.
          await c.query(sql`UPDATE escrows SET status = 'refunded', settled_at = ${T0} WHERE task_id = ${refunded}`);
          await new AccountsRepo(c).post(
            `refund:${refunded}`,
            [
              { account: ACCOUNTS.legacyEscrow, amount: -250_000n },
              { account: ACCOUNTS.customer(b), amount: 250_000n },
            ],
            'refund',
            T0,
          );
        });
        held.set(a, 4_500_000n).set(b, 700_001n).set(idle, 0n);
        expect(await store.transaction((tx) => tx.accounts.balance(ACCOUNTS.legacyEscrow))).toBe(5_200_001n);
        return { loc, a, b, idle, held };
      } finally {
        await store.close();
      }
    }

    it("moves a non-zero escrow balance into each customer's escrow account, books equal, and the store keeps working", async () => {
      const { loc, a, b, idle, held } = await oldStore();
      const driver = await h.open(loc);
      const store = await MarketStore.open(driver);
      try {
        await store.transaction(async (tx) => {
          expect(await tx.accounts.balance(ACCOUNTS.legacyEscrow)).toBe(0n);
          for (const [id, amount] of held) expect(await tx.accounts.balance(ACCOUNTS.escrow(id))).toBe(amount);
          expect(await tx.accounts.escrowTotal()).toBe(5_200_001n);
          expect(await tx.accounts.balance(ACCOUNTS.customer(a))).toBe(5_500_000n);
          expect(await tx.accounts.balance(ACCOUNTS.customer(b))).toBe(9_299_999n);
          expect(await tx.accounts.balance(ACCOUNTS.customer(idle))).toBe(5n);
        });
        await expectBooksEqual(store);

        // After the upgrade: holds, payouts and refunds run on the customers' accounts.
        const fresh = await post(store, a, 1_000_000n);
        const heldTasks = await openEscrows(driver);
        const paid = await store.transaction((tx) =>
          tx.escrow.releaseMany(
            heldTasks
              .filter((t) => t.customerId === a)
              .map((t) => ({
                taskId: t.taskId,
                payout: splitReward(t.amount, [{ address: 'cpc1w', verifiedSlices: 1 }]),
              })),
            T0 + 1,
          ),
        );
        expect(paid.has(fresh)).toBe(true);
        expect(paid.size).toBe(3);
        const refunded = await store.transaction((tx) =>
          tx.escrow.refundMany(
            heldTasks.filter((t) => t.customerId === b).map((t) => t.taskId),
            T0 + 2,
          ),
        );
        expect(refunded.size).toBe(1);
        expect(await escrowTotal(store)).toBe(0n);
        expect(await store.transaction((tx) => tx.accounts.balance(ACCOUNTS.customer(b)))).toBe(10_000_000n);
        await expectBooksEqual(store);
      } finally {
        await store.close();
      }
    }, 180_000); // two PGlite stores opened and migrated: slow on a loaded machine

    it('stops an upgrade whose single escrow account cannot cover the held escrows, and changes nothing', async () => {
      const { loc } = await oldStore();
      const driver = await h.open(loc);
      // Books made unequal on purpose: one micro-CPC leaves the escrow account for burn.
      await driver.transaction(async (c) => {
        await new AccountsRepo(c).post(
          'tamper',
          [
            { account: ACCOUNTS.legacyEscrow, amount: -1n },
            { account: ACCOUNTS.burn, amount: 1n },
          ],
          'tamper',
          T0,
        );
      });
      await driver.close();
      await expect(MarketStore.open(await h.open(loc))).rejects.toThrow(
        /migration 9: the escrow account holds 5200000 micro-CPC but the held escrows add up to 5200001/,
      );
      const again = await h.open(loc);
      try {
        await again.transaction(async (c) => {
          expect((await c.query(sql`SELECT id FROM market_migrations WHERE id = 9`)).length).toBe(0);
          expect(await new AccountsRepo(c).balance(ACCOUNTS.legacyEscrow)).toBe(5_200_000n);
          expect((await c.query(sql`SELECT 1 FROM accounts WHERE account_id LIKE 'escrow:%'`)).length).toBe(0);
        });
      } finally {
        await again.close();
      }
    }, 180_000);
  });
}

for (const h of harnesses) {
  describe(`escrow taken and paid out in two halves (${h.name})`, () => {
    it('pays out what takeHeld took; an escrow taken with no payout to make fails the transaction and nothing moves', async () => {
      const driver = await h.open(await h.newLocation());
      const store = await MarketStore.open(driver);
      try {
        const customer = await store.transaction((tx) => addCustomer(tx, 10_000_000n));
        const [x, y] = [await post(store, customer, 2_000_000n), await post(store, customer, 1_000_000n)];
        const payout = (reward: bigint) => splitReward(reward, [{ address: 'cpc1w', verifiedSlices: 1 }]);
        // Both taken, only x paid out: the transaction must not commit.
        await expect(
          store.transaction(async (tx) => {
            const taken = await tx.escrow.takeHeld([x, y], T0 + 1);
            expect([...taken.keys()].sort()).toEqual([x, y].sort());
            await tx.escrow.payOut(taken, [{ taskId: x, payout: payout(2_000_000n) }], T0 + 1);
          }),
        ).rejects.toThrow(`escrows of tasks ${y} were taken with no payout to make`);
        expect(await escrowTotal(store)).toBe(3_000_000n);
        expect((await openEscrows(driver)).length).toBe(2);
        await expectBooksEqual(store);
        // Both taken and paid: nothing left in escrow, and a second take finds nothing held.
        const paid = await store.transaction(async (tx) =>
          tx.escrow.payOut(
            await tx.escrow.takeHeld([x, y], T0 + 2),
            [
              { taskId: x, payout: payout(2_000_000n) },
              { taskId: y, payout: payout(1_000_000n) },
            ],
            T0 + 2,
          ),
        );
        expect([...paid].sort()).toEqual([x, y].sort());
        expect(await escrowTotal(store)).toBe(0n);
        expect((await store.transaction((tx) => tx.escrow.takeHeld([x, y], T0 + 3))).size).toBe(0);
        await expectBooksEqual(store);
      } finally {
        await store.close();
      }
    });
  });
}

/** Every held escrow. */
async function openEscrows(driver: SqlDriver): Promise<{ taskId: string; customerId: string; amount: bigint }[]> {
  const rows = await driver.transaction((c) =>
    c.query<{ task_id: string; customer_id: string; amount: bigint }>(
      sql`SELECT task_id, customer_id, amount FROM escrows WHERE status = 'held' ORDER BY task_id`,
    ),
  );
  return rows.map((r) => ({ taskId: r.task_id, customerId: r.customer_id, amount: r.amount }));
}

if (!url)
  describe('escrow per customer under concurrency (postgres)', () => {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres:///postgres?host=/var/run/postgresql): these tests need concurrent connections`, () =>
      undefined);
  });

describe.runIf(url)('escrow per customer under concurrency (postgres)', () => {
  const h = url ? pgHarness(url) : undefined;
  afterAll(() => h?.cleanup());

  async function freshStore(): Promise<{ driver: SqlDriver; store: MarketStore }> {
    const driver = await (h as StoreHarness).open(await (h as StoreHarness).newLocation());
    return { driver, store: await MarketStore.open(driver) };
  }

  it("a hold never waits on another customer's open hold", async () => {
    const { driver, store } = await freshStore();
    try {
      const [a, b] = await store.transaction(async (tx) => [
        await addCustomer(tx, 1_000_000n),
        await addCustomer(tx, 1_000_000n),
      ]);
      const ta = randomUUID();
      const tb = randomUUID();
      await driver.transaction(async (c1) => {
        await new TasksRepo(c1).insert(task(ta, a, 10n));
        expect(await new EscrowRepo(c1).hold(ta, a, 10n, T0)).toBe(true);
        // A's hold is uncommitted (its rows stay locked); B's commits with a lock timeout that a wait would hit.
        await driver.transaction(async (c2) => {
          await c2.query(sql`SET LOCAL lock_timeout = '500ms'`);
          await new TasksRepo(c2).insert(task(tb, b, 10n));
          expect(await new EscrowRepo(c2).hold(tb, b, 10n, T0)).toBe(true);
        });
      });
      expect(await escrowTotal(store)).toBe(20n);
      await expectBooksEqual(store);
    } finally {
      await store.close();
    }
  });

  it('many concurrent posts from several customers, paid out and refunded at the same time, conserve the books to the micro-CPC', async () => {
    const seed = Number(process.env.TESSERA_TEST_SEED ?? Date.now() % 2 ** 31);
    console.log(`escrow concurrency seed ${seed} (TESSERA_TEST_SEED=${seed} replays it)`);
    const rnd = seededRandom(seed);
    const { driver, store } = await freshStore();
    try {
      const FUNDS = 1_000_000_000n;
      const customers = await store.transaction(async (tx) => {
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) ids.push(await addCustomer(tx, FUNDS));
        return ids;
      });
      const plan = Array.from({ length: 240 }, () => ({
        customerId: customers[Math.floor(rnd() * customers.length)] as string,
        reward: 1n + BigInt(Math.floor(rnd() * 10_000_000)),
        // What the payers do with it once committed: pay it out, refund it, or leave it open.
        fate: rnd() < 0.7 ? ('pay' as const) : rnd() < 0.67 ? ('refund' as const) : ('open' as const),
      }));
      const committed: { taskId: string; i: number }[] = [];
      let postsDone = false;
      const waiting: (() => void)[] = [];
      const nudge = () => {
        for (const w of waiting.splice(0)) w();
      };
      const taskIds: string[] = new Array<string>(plan.length);
      let next = 0;
      const poster = async () => {
        for (let i = next++; i < plan.length; i = next++) {
          const p = plan[i] as (typeof plan)[number];
          taskIds[i] = await post(store, p.customerId, p.reward);
          committed.push({ taskId: taskIds[i] as string, i });
          nudge();
        }
      };
      // Two payers, as two market instances' group commits would be: set-based payouts and refunds, and single ones.
      const payer = async (w: number) => {
        for (;;) {
          if (committed.length === 0) {
            if (postsDone) return;
            await new Promise<void>((r) => waiting.push(r));
            continue;
          }
          const group = committed.splice(0, 1 + Math.floor(rnd() * 8));
          const pay = group.filter((g) => plan[g.i]?.fate === 'pay');
          const refund = group.filter((g) => plan[g.i]?.fate === 'refund');
          const items = pay.map((g) => ({
            taskId: g.taskId,
            payout: splitReward((plan[g.i] as (typeof plan)[number]).reward, [
              { address: `cpc1worker${g.i % 5}`, verifiedSlices: 2 },
              { address: `cpc1worker${(g.i + w) % 7}`, verifiedSlices: 1 },
            ]),
          }));
          // Payer 0: payouts in one transaction, refunds in another, set-based (a group commit; a
          // sweep). Payer 1: one task per transaction. Several tasks in one transaction go through
          // the set-based calls, which lock every account in one ordered statement: single calls
          // in a loop would lock customers' and workers' accounts in task order, and two such
          // transactions can deadlock.
          if (w === 0) {
            await store.transaction(async (tx) => {
              expect((await tx.escrow.releaseMany(items, T0)).size).toBe(items.length);
            });
            await store.transaction(async (tx) => {
              expect(
                (
                  await tx.escrow.refundMany(
                    refund.map((g) => g.taskId),
                    T0,
                  )
                ).size,
              ).toBe(refund.length);
            });
          } else {
            for (const it of items)
              await store.transaction(async (tx) =>
                expect(await tx.escrow.release(it.taskId, it.payout, T0)).toBe(true),
              );
            for (const g of refund)
              await store.transaction(async (tx) => expect(await tx.escrow.refund(g.taskId, T0)).toBe(true));
          }
        }
      };
      const payers = [payer(0), payer(1)];
      await Promise.all(Array.from({ length: 10 }, poster));
      postsDone = true;
      nudge();
      await Promise.all(payers);

      const open = plan.map((p, i) => ({ ...p, taskId: taskIds[i] as string })).filter((p) => p.fate === 'open');
      expect(await escrowTotal(store)).toBe(open.reduce((s, p) => s + p.reward, 0n));
      await expectBooksEqual(store);
      await store.transaction(async (tx) => {
        for (const c of customers) {
          const spent = plan
            .filter((p) => p.customerId === c && p.fate !== 'refund')
            .reduce((s, p) => s + p.reward, 0n);
          const held = open.filter((p) => p.customerId === c).reduce((s, p) => s + p.reward, 0n);
          expect(await tx.accounts.balance(ACCOUNTS.customer(c))).toBe(FUNDS - spent);
          expect(await tx.accounts.balance(ACCOUNTS.escrow(c))).toBe(held);
        }
        expect(await tx.accounts.balance(ACCOUNTS.legacyEscrow)).toBe(0n);
      });
      expect((await openEscrows(driver)).map((e) => e.taskId).sort()).toEqual(open.map((p) => p.taskId).sort());
      // Paying the rest empties escrow.
      await store.transaction((tx) =>
        tx.escrow.releaseMany(
          open.map((p) => ({
            taskId: p.taskId,
            payout: splitReward(p.reward, [{ address: 'cpc1last', verifiedSlices: 1 }]),
          })),
          T0,
        ),
      );
      expect(await escrowTotal(store)).toBe(0n);
      await expectBooksEqual(store);
    } finally {
      await store.close();
    }
  });
});
