import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DOCTOR_EXIT_DAMAGED } from '../../src/main/doctor.js';
import { openLedger } from '../../src/main/ledger.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';
import { receipt } from '../main/ledger-fixtures.js';
import { tessera } from './run.js';

/** A ledger with funded accounts, 300 applied receipts and a courier receipt; closed cleanly (checkpointed). */
async function populatedLedger(dir: string): Promise<string> {
  const dd = join(dir, 'node');
  const bundle = join(dir, 'bundle.bin');
  writeFileSync(bundle, 'carried bytes');
  const ctx = await openLedger({ dataDir: dd });
  ctx.settlement.fund('buyer', 1_000_000n);
  ctx.settlement.setMode('real');
  ctx.settlement.applyBatch(Array.from({ length: 300 }, (_, i) => receipt(`job-${i}`, BigInt(1 + (i % 7)))));
  ctx.courier.send(bundle, 'alice');
  ctx.close();
  return dd;
}

describe('tessera doctor', () => {
  it('reports a healthy ledger (exit 0), and a receipt that fails re-verification (exit 3) while integrity_check passes', async () => {
    const dd = await populatedLedger(tempDir());
    const ok = tessera(['doctor', '--data-dir', dd]);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(ok.stdout).toMatch(/ok {7}integrity_check: ok\n/);
    expect(ok.stdout).toMatch(/ok {7}receipts: 300 re-verified\n/);
    expect(ok.stdout).toMatch(/healthy\n$/);

    // Tamper with one stored receipt's price: the page is sound, the receipt is not.
    const raw = new BetterSqlite3(join(dd, 'ledger.db'));
    const row = raw.prepare('SELECT idempotency_key, payload FROM receipts ORDER BY idempotency_key LIMIT 1').get() as {
      idempotency_key: string;
      payload: string;
    };
    const payload = JSON.parse(row.payload) as Record<string, unknown>;
    raw
      .prepare('UPDATE receipts SET payload = ? WHERE idempotency_key = ?')
      .run(JSON.stringify({ ...payload, quote_price: '999' }), row.idempotency_key);
    raw.close();
    const bad = tessera(['doctor', '--json', '--data-dir', dd]);
    expect(bad.code).toBe(DOCTOR_EXIT_DAMAGED);
    const report = JSON.parse(bad.stdout) as {
      healthy: boolean;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    expect(report.healthy).toBe(false);
    expect(report.checks.find((c) => c.name === 'integrity_check')).toMatchObject({ ok: true });
    expect(report.checks.find((c) => c.name === 'receipts')).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`1 of 300 fail re-verification: ${row.idempotency_key}`),
    });
  });

  it('16 bytes flipped in one page: status and list stop with the one-line DB_DAMAGED error, doctor reports the damage (exit 3), the file is unchanged', async () => {
    const seed = Number(process.env.TESSERA_TEST_SEED ?? 0xd0c7);
    console.log(`doctor damage seed ${seed}`);
    const dd = await populatedLedger(tempDir());
    const db = join(dd, 'ledger.db');
    const bytes = readFileSync(db);
    const pageSize = bytes.readUInt16BE(16);
    const pages = bytes.length / pageSize;
    const noise = pseudoRandomBytes(17, seed);
    const page = 2 + ((noise[0] as number) % (pages - 2)); // past the schema page; 16 bytes over its b-tree header
    for (let i = 0; i < 16; i++)
      bytes[(page - 1) * pageSize + i] = (bytes[(page - 1) * pageSize + i] as number) ^ ((noise[i + 1] as number) | 1);
    writeFileSync(db, bytes);
    for (const cmd of [
      ['settlement', 'status'],
      ['courier', 'list'],
    ]) {
      const r = tessera([...cmd, '--data-dir', dd]);
      expect(r.code, `${cmd.join(' ')} (page ${page} of ${pages})`).toBe(2);
      expect(r.stderr.split('\n'), cmd.join(' ')).toHaveLength(2); // one line and its newline
      expect(r.stderr, cmd.join(' ')).toMatch(
        /^tessera: .*ledger\.db is damaged or is not a Tessera database \(.*\); Tessera has not changed it — restore it from a backup/,
      );
    }
    const doctor = tessera(['doctor', '--data-dir', dd]);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(DOCTOR_EXIT_DAMAGED);
    expect(doctor.stdout).toMatch(/DAMAGED {2}integrity_check: /);
    expect(doctor.stdout).toMatch(/\ndamaged: Tessera has not changed anything/);
    expect(readFileSync(db).equals(bytes)).toBe(true);
  });

  it('a missing data dir is one line and exit 2, nothing created', () => {
    const dd = join(tempDir(), 'none');
    const r = tessera(['doctor', '--data-dir', dd]);
    expect([r.code, r.stderr]).toEqual([
      2,
      `tessera: no data directory at ${dd}; nothing has been stored yet (pass --data-dir to inspect another one)\n`,
    ]);
  });
});
