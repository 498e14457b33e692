/// <reference types="@webgpu/types" />
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/hex.js';
import { ComputeClient } from '../../../src/main/gpu/compute-client.js';
import { openDawnChannel } from '../../../src/main/gpu/dawn-host.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { blake3KeyedReference, keyWords } from '../../../src/shared/compute/blake3-keyed.js';
import { pseudoRandomBytes, seededRandom } from '../../support/data.js';
import { tempDir } from '../../support/temp-dir.js';
import { MULTI_SEGMENT_SEGMENT_BYTES, multiSegmentLengths } from './cases.js';
import { probeDawn } from './dawn-probe.js';
import { FakeHost } from './fake-host.js';
import { GpuHashService } from '../../../src/main/gpu/gpu-hash-service.js';
import { createMetricsRegistry } from '../../../src/main/metrics.js';
import { startSiblingWorker } from '../../../src/node/worker-entry.js';
import type { KernelPassReply, KernelPassRequest } from './kernel-pass-worker.js';

const cpu = loadNativeBlake3();
const dawn = await probeDawn();

/** Seed of every random key here; set TESSERA_TEST_SEED to replay a failure. */
const SEED = Number(process.env.TESSERA_TEST_SEED ?? 0x6b657965);
console.log(`keyed BLAKE3 tests: seed ${SEED} (TESSERA_TEST_SEED=${SEED} replays it)`);
const random = seededRandom(SEED);
const randomKey = () => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));

/** The sizes the issue names: empty, one byte, around one chunk, 64 KiB + 1, 1 MiB + 7. */
const SIZES = [0, 1, 1023, 1024, 1025, (64 << 10) + 1, (1 << 20) + 7];

/** b3sum's keyed digest: the key on stdin, the bytes in a file. */
function b3sumKeyed(dir: string, data: Uint8Array, key: Uint8Array): string {
  const file = join(dir, `in-${data.length}.bin`);
  writeFileSync(file, data);
  return execFileSync('b3sum', ['--keyed', '--no-names', file], { input: Buffer.from(key), encoding: 'utf8' }).trim();
}

describe('keyed BLAKE3 reference (TypeScript, used by the GPU self-check)', () => {
  it('equals the native keyed hash across chunk and tree edges', () => {
    for (const len of [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 5 * 1024 + 1, 17 * 1024]) {
      const key = randomKey();
      const data = pseudoRandomBytes(len, 40 + len);
      expect(toHex(blake3KeyedReference(key, data)), `length ${len}`).toBe(toHex(cpu.keyed(key, data)));
    }
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => keyWords(new Uint8Array(31))).toThrow(/32 bytes, got 31/);
  });
});

describe('GpuHashService keyed mode', () => {
  it('never uses a GPU whose keyed digests fail the self-check, even when its plain ones pass', async () => {
    const svc = new GpuHashService({
      openHost: () => new FakeHost({ wrongKeyedDigest: '00'.repeat(32) }),
      registry: createMetricsRegistry(),
    });
    try {
      const caps = await svc.start();
      expect(svc.ready).toBe(false);
      expect(caps.hardware_gpu).toBe(false);
      await expect(svc.digestBytes(new Uint8Array(10), randomKey())).rejects.toMatchObject({ code: 'NOT_READY' });
    } finally {
      await svc.close();
    }
  });

  it('answers digestBytes with the plain result hash and the keyed proof', async () => {
    const svc = new GpuHashService({ openHost: () => new FakeHost(), registry: createMetricsRegistry() });
    try {
      await svc.start();
      const key = randomKey();
      const data = pseudoRandomBytes(4097, 12);
      expect(await svc.digestBytes(data, key)).toEqual({
        resultHash: toHex(cpu.hash(data)),
        proof: toHex(cpu.keyed(key, data)),
      });
    } finally {
      await svc.close();
    }
  });
});

describe.skipIf(!dawn.ok)(
  dawn.ok
    ? 'keyed BLAKE3 kernel on Dawn (software: OpenGL ES, llvmpipe)'
    : `keyed BLAKE3 kernel on Dawn — skipped: ${dawn.ok ? '' : dawn.reason}`,
  () => {
    let client: ComputeClient;
    beforeAll(async () => {
      client = new ComputeClient(openDawnChannel({ backends: ['opengles'] }));
      const init = await client.init();
      if (!init.ok) throw new Error(init.message);
    });
    afterAll(() => client.close());

    it('makes the plain and the keyed digest in one request, equal to the native binding and b3sum --keyed', async () => {
      const dir = tempDir();
      for (const [i, len] of SIZES.entries()) {
        const key = randomKey();
        const data = pseudoRandomBytes(len, 900 + i);
        const got = await client.hashBoth(data, key);
        const where = `length ${len}, key ${toHex(key)}`;
        expect(got.keyed, where).toBe(toHex(cpu.keyed(key, data)));
        expect(got.keyed, where).toBe(b3sumKeyed(dir, data, key));
        expect(got.digest, where).toBe(toHex(cpu.hash(data)));
        expect(got.digest, where).toBe(
          execFileSync('b3sum', ['--no-names'], { input: Buffer.from(data), encoding: 'utf8' }).trim(),
        );
      }
    });

    it('gives a different keyed digest under a different key, and the same plain one', async () => {
      const data = pseudoRandomBytes(5000, 7);
      const a = await client.hashBoth(data, randomKey());
      const b = await client.hashBoth(data, randomKey());
      expect(a.keyed).not.toBe(b.keyed);
      expect(a.digest).toBe(b.digest);
    });

    it('merges keyed segments correctly when the input spans several segments', async () => {
      const small = new ComputeClient(openDawnChannel({ backends: ['opengles'] }));
      try {
        expect(await small.init(MULTI_SEGMENT_SEGMENT_BYTES)).toMatchObject({
          ok: true,
          segmentBytes: MULTI_SEGMENT_SEGMENT_BYTES,
        });
        const keys = multiSegmentLengths.map(() => randomKey());
        const inputs = multiSegmentLengths.map((len, i) => pseudoRandomBytes(len, 700 + i));
        const got = await Promise.all(inputs.map((d, i) => small.hashBoth(d, keys[i] as Uint8Array)));
        expect(got.map((g) => g.keyed)).toEqual(inputs.map((d, i) => toHex(cpu.keyed(keys[i] as Uint8Array, d))));
        expect(got.map((g) => g.digest)).toEqual(inputs.map((d) => toHex(cpu.hash(d))));
      } finally {
        await small.close();
      }
    });

    it('a plain request still answers without a keyed digest', async () => {
      const data = pseudoRandomBytes(3000, 8);
      expect(await client.hash(data)).toBe(toHex(cpu.hash(data)));
    });
  },
);

describe.skipIf(!dawn.ok)('keyed BLAKE3 kernel: one pass over the bytes', () => {
  it('uploads each byte once and submits once per segment for both digests', async () => {
    const lengths = [(64 << 10) + 1, 3 * (64 << 10) + 7, 100_000];
    const cases = lengths.map((len) => ({ data: pseudoRandomBytes(len, len), key: randomKey() }));
    // The kernel runs on a Dawn device in a worker thread (kernel-pass-worker.ts) with its queue watched.
    const worker = startSiblingWorker(import.meta.url, 'kernel-pass-worker');
    try {
      const reply = await new Promise<KernelPassReply>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ maxSegmentBytes: 64 << 10, cases } satisfies KernelPassRequest);
      });
      if (!reply.ok) throw new Error(reply.message);
      reply.results.forEach((r, i) => {
        const { data, key } = cases[i] as { data: Uint8Array; key: Uint8Array };
        const len = data.length;
        expect(r.keyed).toBe(toHex(cpu.keyed(key, data)));
        expect(r.plain).toBe(toHex(cpu.hash(data)));
        expect(r.uploaded, `bytes uploaded for ${len}`).toBe(Math.ceil(len / 4) * 4);
        expect(r.submits, `submits for ${len}`).toBe(Math.ceil(len / (64 << 10)));
      });
    } finally {
      await worker.terminate();
    }
  });
});
