import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { receiptToJson } from '../../src/core/ledger/receipt.js';
import { CourierMarket } from '../fixtures/courier-market.js';
import { tempDir } from '../support/temp-dir.js';
import { MAX_CREDITS } from '../../src/core/ledger/credits.js';
import { signReceipt } from '../../src/node/signing/receipt-signing.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';
import { receipt, signedReceipt, TEST_MARKET, testMarketSigner } from '../main/ledger-fixtures.js';
import { root, tessera } from './run.js';

function tesseraAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', `${root}/src/cli/bin.ts`, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const jsonl = (rs: ReturnType<typeof receipt>[]) => rs.map((r) => JSON.stringify(receiptToJson(r))).join('\n');

/** A data dir that trusts the receipts of TEST_MARKET (what joining it once does). */
function trusting(dd: string): void {
  const t = tessera(['market-key', 'trust', TEST_MARKET, testMarketSigner.nodeId, '--data-dir', dd]);
  expect([t.code, t.stdout]).toEqual([0, `pinned market ${TEST_MARKET} key ${testMarketSigner.nodeId}\n`]);
}

describe('tessera settlement apply: exit status and summary', () => {
  it('exits 3 with the summary when a receipt failed (and settlement fell back to dry-run) or conflicted; 0 when all is known', () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    trusting(dd);
    expect(tessera(['settlement', 'mode', 'real', '--data-dir', dd]).code).toBe(0);
    const file = join(dir, 'r.jsonl');
    // b would take the provider's balance past the ledger's range: refused, settlement reverts to dry-run.
    writeFileSync(
      file,
      jsonl([signedReceipt('a', MAX_CREDITS), signedReceipt('b', 1n), signedReceipt('c', 1n, 'provider-2')]),
    );
    const r = tessera(['settlement', 'apply', file, '--data-dir', dd]);
    expect(r.stdout).toBe('1 applied, 1 recorded (dry-run), 0 already known, 1 failed, 0 conflicting\n');
    expect(r.stderr).toMatch(/receipt [0-9a-f]{64}: overflow\n/);
    expect(r.stderr).toMatch(/settlement reverted to dry-run after a failed receipt/);
    expect(r.code).toBe(3);

    const conflict = join(dir, 'conflict.jsonl');
    const other = signReceipt({ ...signedReceipt('a', MAX_CREDITS), issued_at: 5 }, TEST_MARKET, testMarketSigner);
    writeFileSync(conflict, JSON.stringify(receiptToJson(other)));
    const c = tessera(['settlement', 'apply', conflict, '--data-dir', dd]);
    expect([c.code, c.stdout]).toEqual([
      3,
      '0 applied, 0 recorded (dry-run), 0 already known, 0 failed, 1 conflicting\n',
    ]);

    const again = tessera(['settlement', 'apply', file, '--data-dir', dd]);
    expect([again.code, again.stdout]).toEqual([
      0,
      '0 applied, 0 recorded (dry-run), 3 already known, 0 failed, 0 conflicting\n',
    ]);

    // Turning real again applies the pending receipt c; b stays archived. The market's issuer
    // account went below zero by what it paid.
    const mode = tessera(['settlement', 'mode', 'real', '--data-dir', dd]);
    expect(mode.code).toBe(0);
    expect(mode.stdout).toMatch(/pending credit movements: 1 applied, 0 failed, 0 still pending/);
    expect(tessera(['settlement', 'status', '--data-dir', dd]).stdout).toMatch(
      new RegExp(`  market:${TEST_MARKET}  -${MAX_CREDITS + 1n}\n`),
    );
  });

  it('`settlement mode real` exits 3 when a pending receipt fails on the way and says why', () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    trusting(dd);
    const file = join(dir, 'r.jsonl');
    // The market's issuer account may go below zero, but not below the ledger's range: y would take it there.
    writeFileSync(file, jsonl([signedReceipt('x', MAX_CREDITS), signedReceipt('y', 7n, 'provider-2')]));
    expect(tessera(['settlement', 'apply', file, '--data-dir', dd]).code).toBe(0); // dry-run: recorded
    const r = tessera(['settlement', 'mode', 'real', '--data-dir', dd]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(
      /^settlement mode: dry-run\npending credit movements: 1 applied, 1 failed, 0 still pending\n$/,
    );
    expect(r.stderr).toMatch(
      /pending receipt movement [0-9a-f]{64}: overflow: market:test-market balance would leave the ledger's range/,
    );
  });

  it('refuses an unsigned, mis-signed or unknown-market receipt, a device, an over-long line and a string version with one line, applying nothing', () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    const signed = join(dir, 'signed.jsonl');
    writeFileSync(signed, `${jsonl([signedReceipt('a', 1n)])}\n`);
    const unknown = tessera(['settlement', 'apply', signed, '--data-dir', dd]);
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      `tessera: ${signed} line 1: RECEIPT_UNKNOWN_MARKET: no key is pinned for market ${TEST_MARKET}; join it once, or pin its key with \`tessera market-key trust ${TEST_MARKET} <key>\`\n`,
    ]);
    trusting(dd);
    const unsigned = join(dir, 'unsigned.jsonl');
    writeFileSync(unsigned, `${jsonl([signedReceipt('a', 1n), receipt('b', 1n, `market:${TEST_MARKET}`)])}\n`);
    const u = tessera(['settlement', 'apply', unsigned, '--data-dir', dd]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(
      new RegExp(
        `^tessera: ${unsigned} line 2: RECEIPT_UNSIGNED: receipt [0-9a-f]{64} carries no market signature; an unsigned receipt is worth nothing\n$`,
      ),
    );
    const forged = join(dir, 'forged.jsonl');
    const byOther = signReceipt(
      receipt('f', 1n, `market:${TEST_MARKET}`),
      TEST_MARKET,
      ed25519SignerFromSeed(new Uint8Array(32)),
    );
    writeFileSync(forged, jsonl([byOther]));
    const f = tessera(['settlement', 'apply', forged, '--data-dir', dd]);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(
      /line 1: RECEIPT_BAD_SIGNATURE: receipt [0-9a-f]{64} is not signed by the pinned key of market test-market\n$/,
    );

    const zero = tessera(['settlement', 'apply', '/dev/zero', '--data-dir', dd]);
    expect([zero.code, zero.stderr]).toEqual([
      2,
      'tessera: /dev/zero is not a regular file (a device, pipe or socket); the receipts file must be a plain file\n',
    ]);
    const long = join(dir, 'long.jsonl');
    writeFileSync(long, `${jsonl([signedReceipt('a', 1n)])}\n${'x'.repeat(70_000)}\n`);
    const l = tessera(['settlement', 'apply', long, '--data-dir', dd]);
    expect([l.code, l.stderr]).toEqual([
      2,
      `tessera: ${long} line 2 is longer than 65536 bytes; a receipts file has one JSON receipt per line\n`,
    ]);
    const v = join(dir, 'v.jsonl');
    writeFileSync(v, JSON.stringify({ ...receiptToJson(signedReceipt('a', 1n)), version: '1' }));
    const vr = tessera(['settlement', 'apply', v, '--data-dir', dd]);
    expect([vr.code, vr.stderr]).toEqual([
      2,
      `tessera: ${v} line 1: receipt version must be the number 1, got the string "1"\n`,
    ]);
    expect(tessera(['settlement', 'status', '--json', '--data-dir', dd]).stdout).toMatch(
      /"receipts":\{"recorded":0,"applied":0,"archived":0\}/,
    );
  });
});

describe('tessera courier: exit status when receipts stay pending, retry, bounded flags', () => {
  it('flush exits 3 with the summary when the market answered for none; retry of an unknown id is one line', async () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    const bundle = join(dir, 'b.bin');
    writeFileSync(bundle, 'carried');
    expect(tessera(['courier', 'send', bundle, 'alice', '--data-dir', dd]).code).toBe(0);
    const m = await new CourierMarket({ omit: true }).start();
    try {
      const r = await tesseraAsync(['courier', 'flush', '--market', m.url, '--data-dir', dd]);
      expect(r.stdout).toMatch(
        /0 accepted, 0 already known, 0 rejected, 0 credits earned; 1 not answered, 0 held back \(0 now failed\); 1 still pending\n$/,
      );
      expect(r.stderr).toMatch(/the market did not answer for 1 receipt\(s\); they stay pending/);
      expect(r.code).toBe(3);
    } finally {
      await m.close();
    }
    const retry = tessera(['courier', 'retry', '0190c7a6-0000-7000-8000-000000000000', '--data-dir', dd]);
    expect([retry.code, retry.stderr]).toEqual([
      2,
      'tessera: no courier receipt 0190c7a6-0000-7000-8000-000000000000 in this data directory (see `tessera courier list`)\n',
    ]);
    const big = tessera([
      'courier',
      'send',
      bundle,
      'alice',
      '--max-bundle-bytes',
      String(64 * 2 ** 20 + 1),
      '--data-dir',
      dd,
    ]);
    expect([big.code, big.stderr]).toEqual([
      2,
      `tessera: --max-bundle-bytes must be an integer from 1 to ${64 * 2 ** 20}, got "${64 * 2 ** 20 + 1}"\n`,
    ]);
  });
});
