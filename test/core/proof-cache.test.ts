import { describe, expect, it } from 'vitest';
import { ProofCache, type SliceIdentity } from '../../src/core/workloads/proof-cache.js';
import type { SliceProof } from '../../src/core/workloads/workload.js';

const id = (length: number, workload: SliceIdentity['workload'] = 'transcode', fingerprint = ''): SliceIdentity => ({
  workload,
  length,
  fingerprint,
});
const proof = (slice_id: string, hash = 'aa'.repeat(32)): SliceProof => ({
  slice_id,
  workload: 'transcode',
  proof_hash: hash,
  bytes: 10,
  backend: 'cpu',
  duration_ms: 1,
});

describe('ProofCache', () => {
  it('answers a repeated slice with the same identity', () => {
    const c = new ProofCache(10_000);
    c.set('s1', id(10), proof('s1'));
    expect(c.get('s1', id(10))).toEqual(proof('s1'));
    expect(c.get('s2', id(10))).toBeUndefined();
  });

  it('refuses a reused slice id with a different length, workload or content', () => {
    const c = new ProofCache(10_000);
    c.set('s1', id(10, 'transcode', 'f1'), proof('s1'));
    expect(() => c.get('s1', id(11, 'transcode', 'f1'))).toThrow(/already used for 10 bytes, now 11/);
    expect(() => c.get('s1', id(10, 'inference', 'f1'))).toThrow(/workload transcode, now inference/);
    expect(() => c.get('s1', id(10, 'transcode', 'f2'))).toThrow(/different content/);
    expect(() => c.set('s1', id(11, 'transcode', 'f1'), proof('s1'))).toThrow(/SLICE|already used/);
    // The original entry is untouched.
    expect(c.get('s1', id(10, 'transcode', 'f1'))).toEqual(proof('s1'));
  });

  it('evicts least recently used entries to stay within its byte budget', () => {
    const c = new ProofCache(1_000);
    for (let i = 0; i < 50; i++) {
      c.set(`s${i}`, id(i), proof(`s${i}`));
      if (i === 10) c.get('s0', id(0)); // keep s0 hot
      expect(c.bytes).toBeLessThanOrEqual(1_000);
    }
    expect(c.size).toBeGreaterThan(0);
    expect(c.size).toBeLessThan(50);
    expect(c.get('s49', id(49))).toBeDefined();
    expect(c.get('s1', id(1))).toBeUndefined();
  });
});
