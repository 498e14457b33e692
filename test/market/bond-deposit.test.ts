import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { DEFAULT_VALIDATOR_CONFIG } from '../../src/market/validator/validator-config.js';
import { expectBooksEqual } from '../support/books.js';
import { balance, postTask } from '../support/market.js';
import { fundedCustomer, testMarkets, type FundedCustomer, type MarketInstance } from '../support/market-harness.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { tempDir } from '../support/temp-dir.js';
import { storeHarnesses, type StoreHarness } from './store-harness.js';

/**
 * POST /bonds/{address}/deposits (docs/market-api.md, "Bond deposits"): a customer funds a
 * provider's bond from its own balance. Runs on the embedded store and, when TESSERA_TEST_PG_URL is
 * set, on a PostgreSQL server.
 */
const SEED = 0xb0_4e;
console.log(`bond deposit test seed ${SEED}`);
let nonce = BigInt(SEED) * 1_000_000n;
const BOND = DEFAULT_VALIDATOR_CONFIG.bondTarget; // 10 CPC
const FUNDS = 100_000_000n; // 100 CPC

const harnesses = storeHarnesses(() => tempDir('tessera-bond-deposit-'));
const markets = testMarkets();
type M = MarketInstance & FundedCustomer;

/** A market with the market's defaults (a 10 CPC bond) and a customer holding 100 CPC; timers off. */
async function market(h: StoreHarness): Promise<M> {
  const m = await markets.open({ store: async () => h.open(await h.newLocation()), marketId: 'bond-deposit-market' });
  return { ...m, ...(await fundedCustomer(m.server, 'alice', FUNDS)) };
}

async function deposit(
  m: M,
  address: string,
  body: unknown,
  o: { key?: string | null; raw?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const key = o.key === undefined ? m.customerKey : o.key;
  const res = await fetch(`${m.base}/bonds/${encodeURIComponent(address)}/deposits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: o.raw ?? JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Everything a deposit could change: the customer's balance, the bond, the treasury, and the postings. */
async function snapshot(m: M, address: string) {
  return m.store.transaction(async (tx) => ({
    customer: await tx.accounts.balance(ACCOUNTS.customer(m.customer.customerId)),
    bond: await tx.accounts.balance(ACCOUNTS.bond(address)),
    postings: await tx.courier.postingLegs(''),
  }));
}

const join = (m: M, seed: number) => markets.join(m, seed, { max_jobs: 1 });

const task = (tag: string) => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt: tag, max_tokens: 1 },
  reward: '1.0',
});

for (const h of harnesses) {
  describe(`bond deposits (${h.name})`, () => {
    it('a deposit moves exactly the amount from the customer into the bond, at most what the bond lacks; the books balance', async () => {
      const m = await market(h);
      const address = new RawProvider(m.base, m.blake3, seedFrom(SEED + 1)).address;
      const first = await deposit(m, address, { amount: '1.5' });
      expect(first.status).toBe(201);
      expect(first.json).toMatchObject({
        address,
        account: `bond:${address}`,
        requested: '1.5',
        deposited: '1.5',
        bond: '1.5',
        bond_target: '10.0',
        balance: '98.5',
      });
      expect(first.json.deposit_id).toMatch(/^bond-deposit:[0-9a-f-]{36}$/);
      expect(await snapshot(m, address)).toMatchObject({ customer: FUNDS - 1_500_000n, bond: 1_500_000n });
      expect(await m.store.transaction((tx) => tx.courier.postingLegs(first.json.deposit_id as string))).toBe(2);
      // More than the bond lacks: only the 8.5 CPC it lacks moves, and the answer says so.
      const second = await deposit(m, address, { amount: '20' });
      expect(second.status).toBe(201);
      expect(second.json).toMatchObject({ requested: '20.0', deposited: '8.5', bond: '10.0', balance: '90.0' });
      expect(await snapshot(m, address)).toMatchObject({ customer: FUNDS - BOND, bond: BOND });
      await expectBooksEqual(m);
    }, 60_000);

    it('refusals say what was wrong and change nothing', async () => {
      const m = await market(h);
      const refusedKey = await join(m, SEED + 2);
      await m.store.transaction((tx) =>
        tx.settlement.penalizeMany([{ address: refusedKey.address, jobId: randomUUID() }], 'WRONG_RESULT', 25, 1, 0),
      );
      const address = new RawProvider(m.base, m.blake3, seedFrom(SEED + 3)).address;
      const poor = await m.server.customers.add('bob');
      await m.server.customers.fund('bob', 1_000_000n);
      const cases: { what: string; run: () => ReturnType<typeof deposit>; status: number; error: object }[] = [
        {
          what: 'no API key',
          run: () => deposit(m, address, { amount: '1' }, { key: null }),
          status: 401,
          error: { code: 'UNAUTHENTICATED' },
        },
        {
          what: 'an unknown API key',
          run: () => deposit(m, address, { amount: '1' }, { key: 'tsk_nope' }),
          status: 401,
          error: { code: 'INVALID_API_KEY' },
        },
        {
          what: 'not an address',
          run: () => deposit(m, 'cpc1notanaddress', { amount: '1' }),
          status: 400,
          error: { code: 'INVALID_FIELD', field: 'address' },
        },
        ...['0', '-1', '1.0000001', '01', '1e3', ''].map((amount) => ({
          what: `amount ${JSON.stringify(amount)}`,
          run: () => deposit(m, address, { amount }),
          status: 400,
          error: { code: 'INVALID_FIELD', field: 'amount' },
        })),
        {
          what: 'amount as a JSON number',
          run: () => deposit(m, address, { amount: 1.5 }),
          status: 400,
          error: { code: 'INVALID_FIELD', field: 'amount' },
        },
        {
          what: 'no amount',
          run: () => deposit(m, address, {}),
          status: 400,
          error: { code: 'INVALID_FIELD', field: 'amount' },
        },
        {
          what: 'an unknown field',
          run: () => deposit(m, address, { amount: '1', to: 'me' }),
          status: 400,
          error: { code: 'INVALID_FIELD' },
        },
        {
          what: 'malformed JSON',
          run: () => deposit(m, address, null, { raw: '{"amount":' }),
          status: 400,
          error: { code: 'MALFORMED_JSON' },
        },
        {
          what: 'more than the balance',
          run: () => deposit(m, address, { amount: '2' }, { key: poor.apiKey }),
          status: 402,
          error: { code: 'INSUFFICIENT_FUNDS', balance: '1.0', amount: '2.0' },
        },
        {
          what: 'a refused provider',
          run: () => deposit(m, refusedKey.address, { amount: '1' }),
          status: 409,
          error: { code: 'PROVIDER_REFUSED' },
        },
      ];
      const watched = [address, refusedKey.address];
      const before = await Promise.all(watched.map((a) => snapshot(m, a)));
      const poorBefore = await m.server.customers.balance(poor.customer.customerId);
      for (const c of cases) {
        const r = await c.run();
        expect(r.status, c.what).toBe(c.status);
        expect(r.json.error, c.what).toMatchObject(c.error);
        expect((r.json.error as { message: string }).message, c.what).not.toContain('\n');
      }
      expect(await Promise.all(watched.map((a) => snapshot(m, a)))).toEqual(before);
      expect(await m.server.customers.balance(poor.customer.customerId)).toBe(poorBefore);
      // A full bond: 409 BOND_FUNDED, and again nothing moves.
      expect((await deposit(m, address, { amount: '10' })).status).toBe(201);
      const full = await snapshot(m, address);
      const again = await deposit(m, address, { amount: '0.000001' });
      expect(again.status).toBe(409);
      expect(again.json.error).toMatchObject({ code: 'BOND_FUNDED', bond: '10.0', target: '10.0' });
      expect(await snapshot(m, address)).toEqual(full);
      await expectBooksEqual(m);
    }, 60_000);

    it('a deposited bond counts toward the bond (the provider is paid in full), and a failed check takes it to treasury', async () => {
      const m = await market(h);
      const p = await join(m, SEED + 4);
      expect((await deposit(m, p.address, { amount: '10' })).status).toBe(201);
      // A fresh key is checked on every job (probation), so this honest result is checked and passes;
      // with its bond funded nothing is held back: the whole 0.25 CPC share goes to its worker account.
      await postTask(m, task(`honest-${SEED}`));
      m.validator.kick();
      const job = await p.nextJob(0);
      p.sendJson(p.honestResult(job, m.blake3, nonce++));
      expect(await p.ackFor(job.job_id)).toMatchObject({ accepted: true });
      await m.validator.whenIdle();
      expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(250_000n);
      expect(await balance(m, ACCOUNTS.bond(p.address))).toBe(BOND);
      // Garbage on the next job (still on probation: checked): the slash takes the whole deposit.
      const treasury = await balance(m, ACCOUNTS.treasury);
      await postTask(m, task(`cheat-${SEED}`));
      m.validator.kick();
      const bad = await p.nextJob(1);
      p.sendResult(p.resultJson(bad, m.blake3, nonce++, { result_hash: 'ee'.repeat(32) }), bad.epoch);
      expect(await p.ackFor(bad.job_id)).toMatchObject({ code: 'WRONG_RESULT' });
      await m.validator.whenIdle();
      expect(await balance(m, ACCOUNTS.bond(p.address))).toBe(0n);
      const penalties = await m.store.transaction((tx) => tx.validator.penalties(p.address));
      expect(penalties.map((x) => x.slashed)).toEqual([BOND]);
      // The treasury gains the bond and the caught task's treasury share (5% of 1 CPC).
      expect((await balance(m, ACCOUNTS.treasury)) - treasury).toBe(BOND + 50_000n);
      await expectBooksEqual(m);
    }, 60_000);
  });
}
