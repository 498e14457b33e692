import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CREDITS } from '../../src/core/ledger/credits.js';
import { CourierRepo } from '../../src/main/db/repos/courier-repo.js';
import { sql } from '../../src/main/db/sql.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { courierEndpoint, DEFAULT_MAX_RECEIPT_FAILURES } from '../../src/main/services/courier-service.js';
import { MAX_COURIER_BUNDLE_BYTES } from '../../src/shared/courier-protocol.js';
import { CourierMarket } from '../fixtures/courier-market.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function node(dir: string): Promise<Ledger> {
  const ctx = await openLedger({
    dataDir: join(dir, 'node'),
    courier: { backoffBaseMs: 1, backoffCapMs: 5, maxAttempts: 3, batchSize: 10 },
  });
  open.push(ctx);
  ctx.settlement.setMode('real');
  return ctx;
}

async function market(options: ConstructorParameters<typeof CourierMarket>[0] = {}): Promise<CourierMarket> {
  const m = await new CourierMarket(options).start();
  open.push(m);
  return m;
}

function send(ctx: Ledger, dir: string, n: number): { id: string; path: string; hash: string }[] {
  mkdirSync(join(dir, 'in'), { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    const path = join(dir, 'in', `b${i}`);
    writeFileSync(path, pseudoRandomBytes(80 + i, i + 7));
    const r = ctx.courier.send(path, 'carrier');
    return { id: r.id, path, hash: r.bundle_hash };
  });
}

function row(ctx: Ledger, id: string) {
  return ctx.db.get<{ status: string; failures: bigint; lease_owner: string | null; last_error: string | null }>(
    sql`SELECT status, failures, lease_owner, last_error FROM courier_receipts WHERE id = ${id}`,
  );
}

function leasesHeld(ctx: Ledger): bigint | undefined {
  return ctx.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM courier_receipts WHERE lease_owner IS NOT NULL`)?.n;
}

describe('poison receipts do not block the courier queue', () => {
  it('a missing bundle is held back (lease released, failure counted), the rest is delivered; at the limit it fails; retry requeues it', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    const sent = send(ctx, dir, 5);
    const bad = sent[2] as (typeof sent)[number];
    rmSync(join(ctx.dataDir.bundlesDir, bad.hash.slice(0, 2), bad.hash));
    const m = await market({ reward: 2n });

    const first = await ctx.courier.flush(m.url);
    expect(first).toMatchObject({ accepted: 4, held_back: 1, failed: 0, pending_after: 1 });
    expect(first.error).toBeUndefined();
    expect(row(ctx, bad.id)).toMatchObject({
      status: 'pending',
      failures: 1n,
      lease_owner: null,
      last_error: expect.stringMatching(/no such file/),
    });
    expect(leasesHeld(ctx)).toBe(0n);

    for (let i = 2; i <= DEFAULT_MAX_RECEIPT_FAILURES; i++) {
      const s = await ctx.courier.flush(m.url);
      expect(s).toMatchObject({ held_back: 1, failed: i === DEFAULT_MAX_RECEIPT_FAILURES ? 1 : 0 });
    }
    expect(row(ctx, bad.id)).toMatchObject({ status: 'failed', failures: BigInt(DEFAULT_MAX_RECEIPT_FAILURES) });
    expect(ctx.courier.countPending()).toBe(0);
    expect(await ctx.courier.flush(m.url)).toMatchObject({ pending_before: 0, held_back: 0 }); // out of the queue
    expect([...ctx.courier.list(false)].find((r) => r.id === bad.id)).toMatchObject({
      status: 'failed',
      last_error: expect.stringMatching(/no such file/),
    });

    // The bundle comes back: retry puts the receipt in the queue and it is delivered.
    ctx.courier.send(bad.path, 'carrier'); // restores the content-addressed bytes (a new receipt of its own)
    expect(ctx.courier.retry(bad.id)).toMatchObject({ status: 'pending', failures: 0 });
    expect(await ctx.courier.flush(m.url)).toMatchObject({ accepted: 2, held_back: 0, pending_after: 0 });
    expect(m.accepted.has(bad.id)).toBe(true);
    expect(() => ctx.courier.retry(bad.id)).toThrow(/is acknowledged, not failed/);
    expect(() => ctx.courier.retry('nope')).toThrow(/no courier receipt nope in this data directory/);
  });

  it('`bundles/` being a file holds the receipts back with the reason instead of aborting the flush', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    send(ctx, dir, 3);
    rmSync(ctx.dataDir.bundlesDir, { recursive: true });
    writeFileSync(ctx.dataDir.bundlesDir, 'not a directory');
    const m = await market();
    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({ accepted: 0, held_back: 3, pending_after: 3 });
    expect(s.error).toBeUndefined();
    expect(m.requests).toBe(0);
    expect(leasesHeld(ctx)).toBe(0n);
    expect(
      [...ctx.courier.list(true)].every((r) => /a parent of this path is not a directory/.test(r.last_error ?? '')),
    ).toBe(true);
    writeFileSync(join(dir, 'x'), 'x');
    expect(() => ctx.courier.send(join(dir, 'x'), 'carrier')).toThrow(
      /^bundle store .*bundles.*; it must be a directory$/,
    );
  });

  it('a bundle larger than a request can carry is held back; the rest of its batch is delivered', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    const a = send(ctx, dir, 1)[0] as { id: string; hash: string };
    const big = {
      id: uuidv7(),
      bundle_hash: a.hash,
      bytes: MAX_COURIER_BUNDLE_BYTES + 1,
      sender: 'carrier',
      created_at: 1,
    };
    ctx.db.transaction(() => new CourierRepo(ctx.db).insert(big));
    send(ctx, dir, 2);
    const m = await market();
    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({ accepted: 3, held_back: 1, pending_after: 1 });
    expect(row(ctx, big.id)).toMatchObject({
      status: 'pending',
      failures: 1n,
      lease_owner: null,
      last_error: `bundle is ${MAX_COURIER_BUNDLE_BYTES + 1} bytes, more than the ${MAX_COURIER_BUNDLE_BYTES} bytes a courier request can carry`,
    });
  });

  it('a reward the ledger refuses (overflow) rolls back that acknowledgement alone and holds the receipt back', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    ctx.settlement.fund(ctx.identity.nodeId, MAX_CREDITS - 15n);
    const sent = send(ctx, dir, 3);
    const m = await market({ reward: 10n });
    const s = await ctx.courier.flush(m.url);
    expect(s).toMatchObject({ accepted: 1, held_back: 2, reward: 10n, pending_after: 2 });
    expect(ctx.settlement.status().balances.find((b) => b.account === ctx.identity.nodeId)?.balance).toBe(
      (MAX_CREDITS - 5n).toString(),
    );
    for (const r of sent.slice(1)) {
      expect(row(ctx, r.id)).toMatchObject({
        status: 'pending',
        failures: 1n,
        lease_owner: null,
        last_error: expect.stringMatching(
          /the ledger refused the reward \(overflow: .* would exceed the ledger's range\)/,
        ),
      });
    }
    // No acknowledgement without its credit.
    const acked = ctx.db.get<{ n: bigint }>(sql`SELECT count(*) AS n FROM courier_receipts WHERE acknowledged = 1`)?.n;
    expect(acked).toBe(1n);
    expect(ctx.settlement.checkLedger().ok).toBe(true);
    await ctx.courier.flush(m.url);
    const last = await ctx.courier.flush(m.url);
    expect(last).toMatchObject({ duplicate: 0, held_back: 2, failed: 2, pending_after: 0 });
  });

  it('receipts the market does not answer for are counted as unanswered and stay pending', async () => {
    const dir = tempDir();
    const ctx = await node(dir);
    send(ctx, dir, 4);
    const m = await market({ omit: true });
    expect(await ctx.courier.flush(m.url)).toMatchObject({ accepted: 0, unanswered: 4, pending_after: 4 });
    expect(leasesHeld(ctx)).toBe(0n);
  });
});

describe('courier housekeeping', () => {
  it("temp files of a killed `courier send` are removed at open; a live process's are kept", async () => {
    const dir = tempDir();
    const bundles = join(dir, 'node', 'bundles');
    mkdirSync(bundles, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(join(bundles, `.incoming-${dead}-1-abc`), 'partial');
    writeFileSync(join(bundles, `.incoming-${process.ppid}-1-def`), 'in progress elsewhere');
    writeFileSync(join(bundles, '.incoming-garbage'), 'no pid');
    await node(dir);
    expect(readdirSync(bundles).sort()).toEqual([`.incoming-${process.ppid}-1-def`]);
  });

  it('a read-only context removes nothing', async () => {
    const dir = tempDir();
    const first = await node(dir);
    first.close();
    const bundles = join(dir, 'node', 'bundles');
    mkdirSync(bundles, { recursive: true });
    writeFileSync(join(bundles, '.incoming-1-1-x'), 'partial');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(join(bundles, `.incoming-${dead}-1-y`), 'partial');
    const ro = await openLedger({ dataDir: join(dir, 'node'), readonly: true });
    open.push(ro);
    expect(existsSync(join(bundles, `.incoming-${dead}-1-y`))).toBe(true);
  });

  it("keeps the market URL's query string when appending the courier path", async () => {
    expect(courierEndpoint('http://127.0.0.1:7070')).toBe('http://127.0.0.1:7070/courier/receipts');
    expect(courierEndpoint('https://m.example/base?token=a%20b#frag')).toBe(
      'https://m.example/base/courier/receipts?token=a%20b',
    );
    expect(courierEndpoint('https://m.example/base/?x=1&y=2')).toBe('https://m.example/base/courier/receipts?x=1&y=2');
    const dir = tempDir();
    const ctx = await node(dir);
    send(ctx, dir, 1);
    const m = await market();
    expect(await ctx.courier.flush(`${m.url}?token=secret`)).toMatchObject({ accepted: 1 });
    expect(m.queries).toEqual(['?token=secret']);
  });
});
