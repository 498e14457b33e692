import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from '../../src/main/db/sql.js';
import { metricValue } from '../../src/main/metrics.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { COURIER_REWARD_SOURCE } from '../../src/main/services/courier-service.js';
import { CourierMarket } from '../fixtures/courier-market.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function node(dir: string, options: Parameters<typeof openLedger>[0] = {}): Promise<Ledger> {
  const ctx = await openLedger({
    ...options,
    dataDir: join(dir, 'node'),
    courier: { backoffBaseMs: 1, backoffCapMs: 5, maxAttempts: 8, batchSize: 7, ...options.courier },
  });
  open.push(ctx);
  return ctx;
}

async function market(options: ConstructorParameters<typeof CourierMarket>[0] = {}): Promise<CourierMarket> {
  const m = await new CourierMarket(options).start();
  open.push(m);
  return m;
}

function bundles(dir: string, n: number): string[] {
  mkdirSync(join(dir, 'in'), { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    const p = join(dir, 'in', `b${i}.bin`);
    writeFileSync(p, pseudoRandomBytes(100 + i * 13, i + 1));
    return p;
  });
}

describe('courier send', () => {
  it('stores a time-ordered receipt and the bundle bytes, content-addressed', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    const [a, b] = bundles(dir, 2) as [string, string];
    const r1 = ctx.courier.send(a, 'alice');
    const r2 = ctx.courier.send(b, 'bob');
    expect(r1.id < r2.id).toBe(true);
    expect(r1).toMatchObject({ bytes: 100, sender: 'alice' });
    expect(existsSync(join(ctx.dataDir.bundlesDir, r1.bundle_hash.slice(0, 2), r1.bundle_hash))).toBe(true);
    expect([...ctx.courier.list(true)].map((r) => [r.id, r.status, r.acknowledged, r.attempts])).toEqual([
      [r1.id, 'pending', false, 0],
      [r2.id, 'pending', false, 0],
    ]);
  });

  it('rejects a missing or unreadable bundle, a directory, an empty sender and an oversized bundle, writing nothing', async () => {
    const dir = tempDir();
    const ctx = await node(dir, { courier: { maxBundleBytes: 150 } });
    const [small] = bundles(dir, 1) as [string];
    const big = join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(151));
    expect(() => ctx.courier.send(join(dir, 'missing.bin'), 'alice')).toThrow(/missing\.bin: no such file/);
    expect(() => ctx.courier.send(dir, 'alice')).toThrow(/is a directory/);
    expect(() => ctx.courier.send(small, '   ')).toThrow(/sender must not be empty/);
    expect(() => ctx.courier.send(small, 'a\nb')).toThrow(/control characters/);
    expect(() => ctx.courier.send(big, 'alice')).toThrow(/151 bytes, over the 150-byte courier limit/);
    expect([...ctx.courier.list(false)]).toEqual([]);
    const stored = existsSync(ctx.dataDir.bundlesDir) ? readdirSync(ctx.dataDir.bundlesDir, { recursive: true }) : [];
    expect(stored).toEqual([]);
  });
});

describe('courier flush', () => {
  it('acknowledges only what the market accepted, crediting the reward in the same transaction', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    ctx.settlement.setMode('real');
    const ids = bundles(dir, 10).map((p) => ctx.courier.send(p, 'alice').id);
    const m = await market({ reward: 7n, rejectIds: new Set([ids[3] as string]) });
    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({
      pending_before: 10,
      accepted: 9,
      rejected: 1,
      duplicate: 0,
      reward: 63n,
      pending_after: 0,
    });
    expect(m.accepted.size).toBe(9);
    expect(m.badSignatures).toBe(0);
    const rows = [...ctx.courier.list(false)];
    expect(rows.filter((r) => r.acknowledged)).toHaveLength(9);
    expect(rows.find((r) => r.id === ids[3])).toMatchObject({
      status: 'rejected',
      acknowledged: false,
      last_error: 'bundle refused',
    });
    const balance = ctx.settlement.status().balances.find((b) => b.account === ctx.identity.nodeId);
    expect(balance?.balance).toBe('63');
    expect(ctx.settlement.checkLedger().ok).toBe(true);
    // Market got the real bytes.
    const first = m.accepted.get(ids[0] as string);
    expect(first?.bundle).toEqual(Buffer.from(pseudoRandomBytes(100, 1)));
    expect(await metricValue(ctx.registry, 'courier_acknowledged_total')).toBe(9);
    expect(await metricValue(ctx.registry, 'courier_pending')).toBe(0);
  });

  it('drains the queue exactly once through a market that drops 30% of responses and fails requests', async () => {
    const dir = tempDir();
    const ctx = await node(dir, { courier: { maxAttempts: 30 } });
    ctx.settlement.setMode('real');
    const ids = bundles(dir, 60).map((p) => ctx.courier.send(p, 'carrier').id);
    const m = await market({ dropRate: 0.3, failRate: 0.2, reward: 3n, seed: 7 });
    let s = await ctx.courier.flush(m.url);
    while (s.pending_after > 0 && !s.error) s = await ctx.courier.flush(m.url);
    expect(s.error).toBeUndefined();
    expect(ctx.courier.countPending()).toBe(0);
    expect(new Set(m.accepted.keys())).toEqual(new Set(ids));
    expect(m.sends).toBeGreaterThan(60); // lost answers forced re-sends…
    const acked = ctx.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM courier_receipts WHERE acknowledged = 1`)?.n;
    expect(acked).toBe(60n);
    const reward = ctx.db.get<{ s: bigint }>(
      sql`SELECT sum(amount) AS s FROM postings WHERE account = ${ctx.identity.nodeId}`,
    )?.s;
    expect(reward).toBe(180n); // …yet each reward was credited once: 60 × 3
    expect(
      ctx.db.get<{ s: bigint }>(sql`SELECT balance AS s FROM accounts WHERE id = ${COURIER_REWARD_SOURCE}`)?.s,
    ).toBe(-180n);
    const attempts = await metricValue(ctx.registry, 'courier_flush_attempt_total');
    const failures = await metricValue(ctx.registry, 'courier_flush_failure_total');
    expect(attempts).toBe(m.requests);
    expect(failures).toBeGreaterThan(0);
    expect(attempts - failures).toBe(Math.ceil(60 / 7)); // each batch succeeded exactly once
  });

  it('does not retry a 4xx refusal, and gives nothing up: receipts stay pending with the reason', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    bundles(dir, 3).forEach((p) => ctx.courier.send(p, 'alice'));
    const m = await market({ forceStatus: 404 });
    const s = await ctx.courier.flush(m.url);
    expect(m.requests).toBe(1);
    expect(s).toMatchObject({ rejected: 0, accepted: 0, pending_after: 3 });
    expect(s.error).toMatch(/refused the flush: HTTP 404: refused by test market/);
    expect(
      [...ctx.courier.list(false)].every((r) => r.status === 'pending' && /HTTP 404/.test(r.last_error ?? '')),
    ).toBe(true);
    // Once the market (or the URL) is right, everything goes through.
    m.options.forceStatus = undefined;
    expect(await ctx.courier.flush(m.url)).toMatchObject({ accepted: 3, pending_after: 0 });
  });

  it('keeps receipts pending, with the error, when the market stays unreachable', async () => {
    const dir = tempDir();
    const ctx = await node(dir, { courier: { maxAttempts: 3 } });
    bundles(dir, 2).forEach((p) => ctx.courier.send(p, 'alice'));
    const m = await market({ failRate: 1 });
    const s = await ctx.courier.flush(m.url);
    expect(s.error).toMatch(/unreachable after 3 attempts: HTTP 503/);
    expect(m.requests).toBe(3);
    expect([...ctx.courier.list(true)].map((r) => [r.attempts, r.last_error])).toEqual([
      [3, 'HTTP 503: try later'],
      [3, 'HTTP 503: try later'],
    ]);
    expect(await metricValue(ctx.registry, 'courier_flush_failure_total')).toBe(3);
    await expect(ctx.courier.flush('ftp://example')).rejects.toThrow(/must use http or https/);
  });

  it('two flushers at once (tray and CLI) never send the same receipt concurrently', async () => {
    const dir = tempDir();
    const a = await node(dir);
    bundles(dir, 40).forEach((p) => a.courier.send(p, 'alice'));
    const b = await openLedger({
      dataDir: join(dir, 'node'),
      courier: { batchSize: 7, backoffBaseMs: 1, backoffCapMs: 5 },
    });
    open.push(b);
    const m = await market({ delayMs: 20 });
    const [sa, sb] = await Promise.all([a.courier.flush(m.url), b.courier.flush(m.url)]);
    expect(m.concurrentDuplicates).toBe(0);
    expect(m.accepted.size).toBe(40);
    expect(m.sends).toBe(40); // nothing was lost, so nothing was sent twice
    expect(sa.accepted + sa.duplicate + sb.accepted + sb.duplicate).toBe(40);
    expect(a.courier.countPending()).toBe(0);
  });
});

describe('courier leases', () => {
  it('an expired lease passes to another flusher, and the first one notices it lost it', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    const ids = bundles(dir, 3).map((p) => ctx.courier.send(p, 'alice').id);
    const { CourierRepo } = await import('../../src/main/db/repos/courier-repo.js');
    const repo = new CourierRepo(ctx.db);
    expect(repo.lease('A', '', 10, 1_000, 500).map((r) => r.id)).toEqual(ids);
    expect(repo.lease('B', '', 10, 1_200, 500)).toEqual([]); // A still holds them
    expect(repo.extendLease('A', ids, 1_900)).toBe(3);
    expect(repo.lease('B', '', 10, 2_000, 500).map((r) => r.id)).toEqual(ids); // A's lease ran out
    expect(repo.extendLease('A', ids, 2_600)).toBe(0); // A must abandon the batch
  });
});
