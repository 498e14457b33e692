import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/hex.js';
import { makeReceipt, parseReceipt, receiptKeyBytes, receiptToJson } from '../../../src/core/ledger/receipt.js';
import { decodeMode, effectiveMode, encodeMode } from '../../../src/core/ledger/settlement-mode.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';

const blake3 = loadNativeBlake3();

describe('receipt idempotency key', () => {
  it('hashes the documented canonical encoding (docs/receipt-encoding.md vector)', () => {
    const fields = { version: 1 as const, job_id: 'job-1', buyer: 'alice', provider: 'bob', quote_price: 1234n };
    // Built by hand from the spec: u32le length + UTF-8 per string, u64le price, u32le version.
    const expected = Buffer.concat([
      Buffer.from([5, 0, 0, 0]),
      Buffer.from('job-1'),
      Buffer.from([5, 0, 0, 0]),
      Buffer.from('alice'),
      Buffer.from([3, 0, 0, 0]),
      Buffer.from('bob'),
      Buffer.from([0xd2, 0x04, 0, 0, 0, 0, 0, 0]),
      Buffer.from([1, 0, 0, 0]),
    ]);
    expect(toHex(receiptKeyBytes(fields))).toBe(expected.toString('hex'));
    const r = makeReceipt(
      { job_id: 'job-1', buyer: 'alice', provider: 'bob', quote_price: 1234n, issued_at: 1_700_000_000_000 },
      blake3,
    );
    expect(r.idempotency_key).toBe(execFileSync('b3sum', ['--no-names'], { input: expected, encoding: 'utf8' }).trim());
    expect(r.idempotency_key).toBe('cec0262c260c3525044a1f105eaa9d94a94b6bb279c789eadb77e0c99a356e13');
  });

  it('length prefixes keep field boundaries unambiguous', () => {
    const a = makeReceipt({ job_id: 'ab', buyer: 'c', provider: 'p', quote_price: 1n, issued_at: 0 }, blake3);
    const b = makeReceipt({ job_id: 'a', buyer: 'bc', provider: 'p', quote_price: 1n, issued_at: 0 }, blake3);
    expect(a.idempotency_key).not.toBe(b.idempotency_key);
  });

  it('round-trips through JSON and rejects tampering or bad fields with the field named', () => {
    const r = makeReceipt(
      { job_id: 'j', buyer: 'b', provider: 'p', quote_price: (1n << 63n) - 1n, issued_at: 5 },
      blake3,
    );
    const json = receiptToJson(r);
    expect(parseReceipt(JSON.parse(JSON.stringify(json)), blake3)).toEqual(r);
    expect(() => parseReceipt({ ...json, quote_price: '5' }, blake3)).toThrow(/idempotency_key does not match/);
    expect(() => parseReceipt({ ...json, quote_price: 1.5 }, blake3)).toThrow(/quote_price/);
    expect(() => parseReceipt({ ...json, quote_price: '9223372036854775808' }, blake3)).toThrow(/quote_price/);
    expect(() => parseReceipt({ ...json, buyer: '' }, blake3)).toThrow(/buyer/);
    expect(() => parseReceipt({ ...json, version: 2 }, blake3)).toThrow(/version/);
    expect(() => parseReceipt({ ...json, provider: json.buyer }, blake3)).toThrow(/buyer and provider must differ/);
    expect(() => parseReceipt('nope', blake3)).toThrow(/JSON object/);
  });
});

describe('settlement mode', () => {
  it('promotes Armed to Real at its activation time and round-trips its stored form', () => {
    const armed = { kind: 'armed' as const, activate_at: 1000 };
    expect(effectiveMode(armed, 999)).toEqual(armed);
    expect(effectiveMode(armed, 1000)).toEqual({ kind: 'real' });
    for (const m of [{ kind: 'dry_run' as const }, { kind: 'real' as const }, armed])
      expect(decodeMode(encodeMode(m))).toEqual(m);
    expect(() => decodeMode('wild')).toThrow(/not recognised/);
  });
});
