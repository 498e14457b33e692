import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/hex.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { ComputeClient } from '../../../src/main/gpu/compute-client.js';
import { openDawnChannel } from '../../../src/main/gpu/dawn-host.js';
import { pseudoRandomBytes, vectorInput } from '../../support/data.js';
import { equivalenceLengths, MULTI_SEGMENT_SEGMENT_BYTES, multiSegmentLengths, seedOf, vectors } from './cases.js';
import { probeDawn } from './dawn-probe.js';

const dawn = await probeDawn();
const cpu = loadNativeBlake3();
const title = dawn.ok
  ? 'BLAKE3 kernel on Dawn (OpenGL ES, llvmpipe)'
  : `BLAKE3 kernel on Dawn — skipped: ${dawn.reason}`;

describe.skipIf(!dawn.ok)(title, () => {
  let client: ComputeClient;
  beforeAll(async () => {
    client = new ComputeClient(openDawnChannel({ backends: ['opengles'] }));
    const init = await client.init();
    if (!init.ok) throw new Error(init.message);
    expect(init.adapter.featureLevel).toBe('compatibility');
    expect(init.segmentBytes).toBe(128 << 20); // compatibility-mode default maxStorageBufferBindingSize
  });
  afterAll(() => client.close());

  it('matches the official test vectors', async () => {
    const got = await Promise.all(vectors.map((v) => client.hash(vectorInput(v.input_len))));
    expect(got).toEqual(vectors.map((v) => v.hash));
  });

  it('equals the CPU hasher for 200+ lengths (chunk/block edges, multiples of 64, 2^k ± 1 chunks, random)', async () => {
    const lengths = equivalenceLengths();
    expect(lengths.length).toBeGreaterThanOrEqual(200);
    for (const n of [1023, 1024, 1025, 1023 * 1024, 1025 * 1024, 1024 * 1024 + 1]) expect(lengths).toContain(n);
    expect(lengths.filter((n) => n > 0 && n % 64 === 0).length).toBeGreaterThan(40);
    const inputs = lengths.map((len, i) => pseudoRandomBytes(len, seedOf(i)));
    const got = await Promise.all(inputs.map((d) => client.hash(d)));
    const mismatches = lengths.filter((_, i) => got[i] !== toHex(cpu.hash(inputs[i] as Uint8Array)));
    expect(mismatches).toEqual([]);
  });

  it('leaves the caller’s bytes attached and unchanged', async () => {
    const data = pseudoRandomBytes(5000, 3);
    const before = toHex(cpu.hash(data));
    expect(await client.hash(data)).toBe(before);
    expect(data.byteLength).toBe(5000);
    expect(toHex(cpu.hash(data))).toBe(before);
  });

  it('merges segments correctly when the input exceeds the segment size', async () => {
    const small = new ComputeClient(openDawnChannel({ backends: ['opengles'] }));
    try {
      const init = await small.init(MULTI_SEGMENT_SEGMENT_BYTES);
      expect(init).toMatchObject({ ok: true, segmentBytes: MULTI_SEGMENT_SEGMENT_BYTES });
      const inputs = multiSegmentLengths.map((len, i) => pseudoRandomBytes(len, seedOf(500 + i)));
      const got = await Promise.all(inputs.map((d) => small.hash(d)));
      expect(got).toEqual(inputs.map((d) => toHex(cpu.hash(d))));
      const vec = vectors.filter((v) => v.input_len > MULTI_SEGMENT_SEGMENT_BYTES);
      expect(await Promise.all(vec.map((v) => small.hash(vectorInput(v.input_len))))).toEqual(vec.map((v) => v.hash));
    } finally {
      await small.close();
    }
  });

  it('hashes a multi-megabyte slice in two device-sized segments when capped', async () => {
    const capped = new ComputeClient(openDawnChannel({ backends: ['opengles'] }));
    try {
      expect(await capped.init(4 << 20)).toMatchObject({ ok: true, segmentBytes: 4 << 20 });
      const data = pseudoRandomBytes((8 << 20) + 12_345, 77);
      expect(await capped.hash(data)).toBe(toHex(cpu.hash(data)));
    } finally {
      await capped.close();
    }
  });

  it('reports the device loss and fails the request instead of answering', async () => {
    const lossy = new ComputeClient(openDawnChannel({ backends: ['opengles'] }));
    try {
      expect((await lossy.init()).ok).toBe(true);
      const lost = new Promise<string>((resolve) => lossy.onDidLoseDevice(resolve));
      const pending = lossy.hash(pseudoRandomBytes(32 << 20, 5));
      lossy.dropDevice();
      await expect(pending).rejects.toMatchObject({ name: 'GpuHostError' });
      expect(await lost).toMatch(/destroyed/);
      await expect(lossy.hash(new Uint8Array(10))).rejects.toMatchObject({ code: 'NOT_READY' });
      // A fresh init brings the host back.
      expect((await lossy.init()).ok).toBe(true);
      expect(await lossy.hash(vectorInput(1025))).toBe(vectors.find((v) => v.input_len === 1025)?.hash);
    } finally {
      await lossy.close();
    }
  });
});

describe('Dawn host without an adapter', () => {
  it('answers init with no-adapter when no backend finds one', async () => {
    const none = new ComputeClient(openDawnChannel({ backends: [] }));
    try {
      expect(await none.init()).toEqual({ ok: false, message: 'no WebGPU adapter is available' });
      await expect(none.hash(new Uint8Array(1))).rejects.toMatchObject({ code: 'NOT_READY' });
    } finally {
      await none.close();
    }
  });
});
