import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { fromHex, toHex } from '../../src/core/hex.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { createMarketServer, type MarketServer } from '../../src/market/market-server.js';
import { courierEventId, courierReward, type CourierRewardRule } from '../../src/market/services/courier-inbox.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import { courierSigningBytes } from '../../src/core/courier/courier-receipt.js';
import { pgHarness, PG_URL_ENV } from './store-harness.js';
import { addressFromPublicKey } from '../../src/shared/market-address.js';
import type { CourierFlushRequest } from '../../src/shared/courier-protocol.js';
import { pseudoRandomBytes, seededRandom } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';
import { balance } from '../support/market.js';

const SEED = 0xc0de;
console.log(`courier inbox test seed ${SEED}`);
const clock = { now: () => Date.now() };
/** 7 micro-CPC per started KiB, at most 50 per receipt. */
const RULE: CourierRewardRule = { perKiB: 7n, cap: 50n };

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

interface Market {
  server: MarketServer;
  store: MarketStore;
  url: string;
  dir: string;
  blake3: Blake3Hasher;
}

/** A real market (HTTP on 127.0.0.1) on an embedded PGlite store in `dir`. */
async function market(
  dir: string,
  rule: CourierRewardRule = RULE,
  o: { bodyLimitBytes?: number; onDisk?: boolean; driver?: SqlDriver } = {},
): Promise<Market> {
  const blake3 = await loadBlake3();
  const store = await MarketStore.open(o.driver ?? (await openPgliteDriver(o.onDisk ? join(dir, 'store') : undefined)));
  const server = await createMarketServer({
    store,
    clock,
    blake3,
    dataDir: dir,
    expirySweepMs: 0,
    processMetrics: false,
    courier: { reward: rule, ...(o.bodyLimitBytes ? { bodyLimitBytes: o.bodyLimitBytes } : {}) },
  });
  const url = await server.listen('127.0.0.1', 0);
  const m = { server, store, url, dir, blake3 };
  open.push({
    close: async () => {
      await server.close();
      await store.close();
    },
  });
  return m;
}

/** A provider node's ledger with its courier (the real CourierService), settlement real so rewards are credited. */
async function node(dir: string, fetchFn?: typeof fetch): Promise<Ledger> {
  const ctx = await openLedger({
    dataDir: join(dir, 'node'),
    courier: { backoffBaseMs: 1, backoffCapMs: 5, maxAttempts: 4 },
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
  open.push(ctx);
  ctx.settlement.setMode('real');
  return ctx;
}

/** Bundle files of seeded sizes, stored as `tessera courier send FILE SENDER` stores them. */
function send(ctx: Ledger, dir: string, sizes: number[]): string[] {
  mkdirSync(join(dir, 'in'), { recursive: true });
  return sizes.map((size, i) => {
    const p = join(dir, 'in', `b${i}-${size}.bin`);
    writeFileSync(p, pseudoRandomBytes(size, SEED + i));
    return ctx.courier.send(p, `carrier-${i}`).id;
  });
}

function seededSizes(n: number): number[] {
  const rnd = seededRandom(SEED);
  return Array.from({ length: n }, () => 1 + Math.floor(rnd() * 12_000));
}

const stored = (m: Market) => m.store.transaction((tx) => tx.courier.count());
const postings = (m: Market, prefix: string) => m.store.transaction((tx) => tx.courier.postingLegs(prefix));
const keptBundles = (m: Market) =>
  existsSync(join(m.dir, 'courier'))
    ? readdirSync(join(m.dir, 'courier'), { recursive: true }).filter((f) => String(f).length > 60)
    : [];
const nodeBalance = (ctx: Ledger) =>
  ctx.settlement.status().balances.find((b) => b.account === ctx.identity.nodeId)?.balance ?? '0';

/** A fetch that lets the test rewrite each courier request body before the market sees it. */
function tampering(edit: (req: CourierFlushRequest) => void): typeof fetch {
  return async (input, init) => {
    const req = JSON.parse(String(init?.body)) as CourierFlushRequest;
    edit(req);
    return fetch(input, { ...init, body: JSON.stringify(req) });
  };
}

describe('courier inbox: POST /courier/receipts on the market', { timeout: 120_000 }, () => {
  it('accepts receipts flushed by the real CourierService and credits each reward once to the node address, visible in GET /balances', async () => {
    const dir = tempDir('tessera-courier-inbox-');
    const m = await market(dir);
    const ctx = await node(dir);
    const sizes = [0, 100, 1024, 1025, 3000, 20_000, ...seededSizes(4)];
    const ids = send(ctx, dir, sizes);
    const expected = sizes.map((s) => courierReward(s, RULE));
    expect(expected.slice(0, 6)).toEqual([0n, 7n, 7n, 14n, 21n, 50n]); // the rule: per started KiB, capped
    const total = expected.reduce((a, b) => a + b, 0n);

    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({
      pending_before: sizes.length,
      accepted: sizes.length,
      duplicate: 0,
      rejected: 0,
      reward: total,
      pending_after: 0,
    });
    const address = addressFromPublicKey(fromHex(ctx.identity.nodeId), m.blake3);
    expect(await balance(m, ACCOUNTS.worker(address))).toBe(total);
    expect(await balance(m, ACCOUNTS.mint)).toBe(-total);
    expect(await stored(m)).toBe(sizes.length);
    expect(await postings(m, 'courier:')).toBe(2 * expected.filter((r) => r > 0n).length);
    expect(nodeBalance(ctx)).toBe(total.toString());
    // Stored once per receipt id, with the node's address and the reward credited.
    const row = await m.store.transaction((tx) => tx.courier.get(ids[5] as string));
    expect(row).toMatchObject({
      nodeId: ctx.identity.nodeId,
      address,
      bytes: 20_000,
      sender: 'carrier-5',
      reward: 50n,
    });
    // The bundle bytes are kept, content-addressed.
    const hash = row?.bundleHash as string;
    expect(readFileSync(join(dir, 'courier', hash.slice(0, 2), hash))).toEqual(
      Buffer.from(pseudoRandomBytes(20_000, SEED + 5)),
    );

    const res = await fetch(`${m.url}/balances/${address}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      address,
      account: `worker:${address}`,
      balance: `0.${total.toString().padStart(6, '0')}`,
      balance_micro: total.toString(),
      worker_micro: total.toString(),
      bond_micro: '0',
    });
    const bad = await fetch(`${m.url}/balances/cpc1nope`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'INVALID_FIELD', field: 'address' } });
    const metrics = await (await fetch(`${m.url}/metrics`)).text();
    expect(metrics).toContain(`market_courier_receipts_total{status="accepted"} ${sizes.length}`);
  });

  it('a retried flush (the answer lost) is answered duplicate with the first reward; nothing is credited twice, even under a new reward rule', async () => {
    const dir = tempDir('tessera-courier-inbox-');
    const m = await market(dir, RULE, { onDisk: true });
    const sent: string[] = [];
    let dropped = 0;
    // The market processes the first request but its answer never reaches the node.
    const losing: typeof fetch = async (input, init) => {
      sent.push(String(init?.body));
      const res = await fetch(input, init);
      if (dropped++ === 0) {
        await res.text();
        throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      }
      return res;
    };
    const ctx = await node(dir, losing);
    const sizes = seededSizes(5);
    send(ctx, dir, sizes);
    const total = sizes.reduce((a, s) => a + courierReward(s, RULE), 0n);
    const address = addressFromPublicKey(fromHex(ctx.identity.nodeId), m.blake3);

    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({ accepted: 0, duplicate: 5, rejected: 0, reward: total, attempts: 2, pending_after: 0 });
    expect(sent).toHaveLength(2);
    expect(await balance(m, ACCOUNTS.worker(address))).toBe(total);
    expect(await stored(m)).toBe(5);
    expect(nodeBalance(ctx)).toBe(total.toString());

    // The same request again, to a market restarted on the same store with another rule: the first reward, no new credit.
    const m2 = await (async () => {
      await m.server.close();
      await m.store.close();
      open.splice(0, 1);
      return market(dir, { perKiB: 1000n, cap: 1_000_000n }, { onDisk: true });
    })();
    const again = await fetch(`${m2.url}/courier/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sent[0],
    });
    expect(again.status).toBe(200);
    const body = (await again.json()) as { results: { status: string; reward: string }[] };
    expect(body.results.map((r) => r.status)).toEqual(Array(5).fill('duplicate'));
    expect(body.results.map((r) => BigInt(r.reward))).toEqual(sizes.map((sz) => courierReward(sz, RULE)));
    expect(await balance(m2, ACCOUNTS.worker(address))).toBe(total);
    expect(await postings(m2, 'courier:')).toBe(2 * 5);
  });

  it('a bad signature or a bundle that does not match its hash is rejected with a code, and nothing is stored or credited', async () => {
    const dir = tempDir('tessera-courier-inbox-');
    const m = await market(dir);
    const cases: { name: string; code: string; edit: (req: CourierFlushRequest) => void }[] = [
      // Another key's signature: flip one hex digit.
      {
        name: 'signature',
        code: 'BAD_SIGNATURE',
        edit: (req) =>
          req.receipts.forEach((r) => (r.signature = `${r.signature[0] === '0' ? '1' : '0'}${r.signature.slice(1)}`)),
      },
      // Same length, other bytes: the signed bundle_hash no longer matches.
      {
        name: 'bundle',
        code: 'BUNDLE_HASH_MISMATCH',
        edit: (req) =>
          req.receipts.forEach((r) => {
            const b = Buffer.from(r.bundle, 'base64');
            b[0] = (b[0] as number) ^ 0xff;
            r.bundle = b.toString('base64');
          }),
      },
      {
        name: 'size',
        code: 'BUNDLE_SIZE_MISMATCH',
        edit: (req) =>
          req.receipts.forEach(
            (r) => (r.bundle = Buffer.concat([Buffer.from(r.bundle, 'base64'), Buffer.from([1])]).toString('base64')),
          ),
      },
    ];
    for (const c of cases) {
      const sub = join(dir, c.name);
      const ctx = await node(sub, tampering(c.edit));
      const ids = send(ctx, sub, [500, 2048]);
      const s = await ctx.courier.flush(m.url);
      expect(s, c.name).toMatchObject({ accepted: 0, duplicate: 0, rejected: 2, reward: 0n, pending_after: 0 });
      const rows = [...ctx.courier.list(false)];
      expect(
        rows.map((r) => r.status),
        c.name,
      ).toEqual(['rejected', 'rejected']);
      expect(rows[0]?.last_error, c.name).toMatch(new RegExp(`^${c.code}: `));
      expect(ids).toHaveLength(2);
      const address = addressFromPublicKey(fromHex(ctx.identity.nodeId), m.blake3);
      expect(await balance(m, ACCOUNTS.worker(address)), c.name).toBe(0n);
    }
    expect(await stored(m)).toBe(0);
    expect(await balance(m, ACCOUNTS.mint)).toBe(0n);
    expect(await postings(m, 'courier:')).toBe(0);
    expect(keptBundles(m)).toEqual([]);
  });

  it('answers each receipt on its own, refuses a reused id for another bundle, and keeps bad requests at 400/413 naming the field', async () => {
    const dir = tempDir('tessera-courier-inbox-');
    const m = await market(dir, RULE, { bodyLimitBytes: 64 * 1024 });
    const captured: string[] = [];
    const ctx = await node(dir, async (input, init) => {
      captured.push(String(init?.body));
      return fetch(input, init);
    });
    const [good] = send(ctx, dir, [4000]);
    expect(await ctx.courier.flush(m.url)).toMatchObject({ accepted: 1, reward: 28n });
    const req = JSON.parse(captured[0] as string) as CourierFlushRequest;
    const first = req.receipts[0] as CourierFlushRequest['receipts'][number];
    // A second receipt under the same id, signed by the same node, for other bytes.
    const other = Buffer.from(pseudoRandomBytes(4000, 999));
    const core = {
      id: good as string,
      bundle_hash: toHex(m.blake3.hash(other)),
      bytes: 4000,
      sender: 'carrier-0',
      created_at: first.created_at,
    };
    const conflict = {
      ...core,
      signature: ctx.identity.sign(courierSigningBytes(core)),
      bundle: other.toString('base64'),
    };
    const res = await fetch(`${m.url}/courier/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ node_id: req.node_id, receipts: [first, conflict] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: unknown[] }).results).toEqual([
      { id: good, status: 'duplicate', reward: '28' },
      {
        id: good,
        status: 'rejected',
        reward: '0',
        code: 'RECEIPT_ID_CONFLICT',
        reason: expect.stringMatching(/^RECEIPT_ID_CONFLICT: /),
      },
    ]);
    expect(await stored(m)).toBe(1);

    const post = (body: string, type = 'application/json') =>
      fetch(`${m.url}/courier/receipts`, { method: 'POST', headers: { 'content-type': type }, body });
    const missing = await post(JSON.stringify({ node_id: req.node_id, receipts: [{ ...first, bundle_hash: 'xyz' }] }));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: 'INVALID_FIELD', field: 'receipts.0.bundle_hash' } });
    const big = await post(
      JSON.stringify({ node_id: req.node_id, receipts: [{ ...first, bundle: 'A'.repeat(70 * 1024) }] }),
    );
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
    expect((await post('{"node_id":')).status).toBe(400);
    expect((await post('x', 'text/plain')).status).toBe(415);
    expect(await stored(m)).toBe(1);
    expect(await balance(m, ACCOUNTS.mint)).toBe(-28n);
    expect(await postings(m, courierEventId(good as string))).toBe(2);
  });

  for (const where of ['pglite', 'postgres'] as const) {
    const pgUrl = process.env[PG_URL_ENV];
    it.skipIf(where === 'postgres' && !pgUrl)(
      `concurrent flushes of the same receipts credit each once (${where}${where === 'postgres' ? `, ${PG_URL_ENV}` : ''})`,
      async () => {
        const dir = tempDir('tessera-courier-inbox-');
        const harness = where === 'postgres' ? pgHarness(pgUrl as string) : undefined;
        if (harness) open.push({ close: () => harness.cleanup() });
        const m = await market(dir, RULE, harness ? { driver: await harness.open(await harness.newLocation()) } : {});
        const ctx = await node(dir);
        const sizes = seededSizes(6);
        const ids = send(ctx, dir, sizes);
        // The request a node sends, built from its stored receipts and bundle files.
        const rows = [...ctx.courier.list(true)];
        expect(rows.map((r) => r.id)).toEqual(ids);
        const receipts = rows.map((r, i) => {
          const core = {
            id: r.id,
            bundle_hash: r.bundle_hash,
            bytes: r.bytes,
            sender: r.sender,
            created_at: r.created_at,
          };
          return {
            ...core,
            signature: ctx.identity.sign(courierSigningBytes(core)),
            bundle: Buffer.from(pseudoRandomBytes(sizes[i] as number, SEED + i)).toString('base64'),
          };
        });
        const body = JSON.stringify({ node_id: ctx.identity.nodeId, receipts });
        const answers = await Promise.all(
          Array.from({ length: 4 }, async () => {
            const res = await fetch(`${m.url}/courier/receipts`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            expect(res.status).toBe(200);
            return ((await res.json()) as { results: { id: string; status: string; reward: string }[] }).results;
          }),
        );
        const total = sizes.reduce((a, sz) => a + courierReward(sz, RULE), 0n);
        for (const [i, id] of ids.entries()) {
          const per = answers.map((a) => a.find((r) => r.id === id));
          expect(
            per.filter((r) => r?.status === 'accepted'),
            id,
          ).toHaveLength(1);
          expect(
            per.filter((r) => r?.status === 'duplicate'),
            id,
          ).toHaveLength(3);
          expect(new Set(per.map((r) => r?.reward)), id).toEqual(
            new Set([courierReward(sizes[i] as number, RULE).toString()]),
          );
        }
        const address = addressFromPublicKey(fromHex(ctx.identity.nodeId), m.blake3);
        expect(await balance(m, ACCOUNTS.worker(address))).toBe(total);
        expect(await stored(m)).toBe(6);
      },
    );
  }
});
