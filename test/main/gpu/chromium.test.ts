import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from '@playwright/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/core/hex.js';
import { loadNativeBlake3 } from '../../../src/node/hash/node-hasher.js';
import { COMPUTE_PORT_MESSAGE } from '../../../src/shared/compute/port-names.js';
import { pseudoRandomBytes, seededRandom } from '../../support/data.js';
import { equivalenceLengths, MULTI_SEGMENT_SEGMENT_BYTES, multiSegmentLengths, seedOf, vectors } from './cases.js';
import { buildComputePage, serveDir } from './compute-page.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--headless',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** What the page-side harness sends: an official vector input or pseudo-random bytes (test/support/data.ts). */
type InputSpec = ({ kind: 'vector'; len: number } | { kind: 'random'; len: number; seed: number }) & { key?: number[] };
type Reply = {
  type: string;
  id?: number;
  digest?: string;
  keyed?: string;
  code?: string;
  message?: string;
  segmentBytes?: number;
  adapter?: Record<string, unknown>;
};

/**
 * Runs in the page: plays the main process's part over a MessagePort handed to the compute page
 * exactly as the compute preload does, and generates inputs in place (no large transfers
 * through the test driver). Plain JavaScript so no transpiler helper leaks into the page.
 */
const HARNESS = `(() => {
  const ch = new MessageChannel();
  const port = ch.port1;
  const waiting = new Map();
  const lost = [];
  const stray = [];
  let initWaiter = null;
  let nextId = 1;
  port.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'ready' || m.type === 'no-adapter') { const w = initWaiter; initWaiter = null; if (w) w(m); }
    else if ((m.type === 'hashed' || m.type === 'failed') && waiting.has(m.id)) { const w = waiting.get(m.id); waiting.delete(m.id); w(m); }
    else if (m.type === 'lost') lost.push(m);
    else stray.push(m);
  };
  window.postMessage(${JSON.stringify(COMPUTE_PORT_MESSAGE)}, '*', [ch.port2]);
  const prng = (len, seed) => {
    const out = new Uint8Array(len);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < len; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x & 0xff; }
    return out;
  };
  const vector = (len) => { const out = new Uint8Array(len); for (let i = 0; i < len; i++) out[i] = i % 251; return out; };
  const hash = (spec) => {
    const data = spec.kind === 'vector' ? vector(spec.len) : prng(spec.len, spec.seed);
    const id = nextId++;
    const message = spec.key ? { type: 'hash', id, data, key: new Uint8Array(spec.key) } : { type: 'hash', id, data };
    return new Promise((resolve) => { waiting.set(id, resolve); port.postMessage(message, [data.buffer]); });
  };
  window.__compute = {
    init: (maxSegmentBytes) => new Promise((resolve) => {
      initWaiter = resolve;
      port.postMessage(maxSegmentBytes ? { type: 'init', maxSegmentBytes } : { type: 'init' });
    }),
    hashAll: (specs) => Promise.all(specs.map(hash)),
    send: (message) => port.postMessage(message),
    drop: () => port.postMessage({ type: 'drop-device' }),
    lost: () => lost,
    stray: () => stray,
  };
})()`;

const available = existsSync(CHROMIUM);
const title = available
  ? 'compute page in Chromium (WebGPU on SwiftShader)'
  : `compute page in Chromium — skipped: ${CHROMIUM} not found (apt-get install chromium)`;

describe.skipIf(!available)(title, () => {
  const cpu = loadNativeBlake3();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-compute-page-'));
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base: string;

  const init = (maxSegmentBytes?: number) =>
    page.evaluate(
      (m) => (globalThis as unknown as { __compute: { init(m?: number): Promise<Reply> } }).__compute.init(m),
      maxSegmentBytes,
    );
  const hashAll = (specs: InputSpec[]) =>
    page.evaluate(
      (s) =>
        (globalThis as unknown as { __compute: { hashAll(s: InputSpec[]): Promise<Reply[]> } }).__compute.hashAll(s),
      specs,
    );
  const digests = (replies: Reply[]) => replies.map((r) => r.digest ?? `${r.type}: ${r.code ?? ''} ${r.message ?? ''}`);

  beforeAll(async () => {
    const out = join(dir, 'compute');
    await buildComputePage(out);
    ({ server, url: base } = await serveDir(out));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base);
    await page.evaluate(HARNESS);
    const ready = await init();
    expect(errors).toEqual([]);
    expect(ready).toMatchObject({
      type: 'ready',
      adapter: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true },
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => server?.close(ok));
    rmSync(dir, { recursive: true, force: true });
  });

  it('matches the official test vectors', async () => {
    expect(digests(await hashAll(vectors.map((v) => ({ kind: 'vector', len: v.input_len }))))).toEqual(
      vectors.map((v) => v.hash),
    );
  });

  it('equals the CPU hasher for 200+ lengths (chunk/block edges, multiples of 64, 2^k ± 1 chunks, random)', async () => {
    const lengths = equivalenceLengths();
    const got = digests(await hashAll(lengths.map((len, i) => ({ kind: 'random', len, seed: seedOf(i) }))));
    const want = lengths.map((len, i) => toHex(cpu.hash(pseudoRandomBytes(len, seedOf(i)))));
    expect(lengths.filter((_, i) => got[i] !== want[i])).toEqual([]);
  });

  it('makes the plain and the keyed digest in one request (seeded keys), equal to the native keyed hash', async () => {
    const seed = 0x5eed;
    console.log(`Chromium keyed test seed ${seed}`);
    const random = seededRandom(seed);
    const sizes = [0, 1, 1023, 1024, 1025, (64 << 10) + 1, (1 << 20) + 7];
    const specs: InputSpec[] = sizes.map((len, i) => ({
      kind: 'random',
      len,
      seed: seedOf(800 + i),
      key: Array.from({ length: 32 }, () => Math.floor(random() * 256)),
    }));
    const replies = await hashAll(specs);
    const data = (s: InputSpec) => pseudoRandomBytes(s.len, (s as { seed: number }).seed);
    expect(replies.map((r) => r.keyed)).toEqual(
      specs.map((s) => toHex(cpu.keyed(new Uint8Array(s.key ?? []), data(s)))),
    );
    expect(replies.map((r) => r.digest)).toEqual(specs.map((s) => toHex(cpu.hash(data(s)))));
  });

  it('merges segments correctly when the input exceeds the segment size', async () => {
    expect(await init(MULTI_SEGMENT_SEGMENT_BYTES)).toMatchObject({
      type: 'ready',
      segmentBytes: MULTI_SEGMENT_SEGMENT_BYTES,
    });
    const got = digests(
      await hashAll(multiSegmentLengths.map((len, i) => ({ kind: 'random', len, seed: seedOf(500 + i) }))),
    );
    expect(got).toEqual(multiSegmentLengths.map((len, i) => toHex(cpu.hash(pseudoRandomBytes(len, seedOf(500 + i))))));
  });

  it('rejects malformed requests with a stable code', async () => {
    type Harness = { __compute: { send(m: unknown): void; stray(): Reply[] } };
    await page.evaluate(() =>
      (globalThis as unknown as Harness).__compute.send({ type: 'hash', id: 9999, data: 'not bytes' }),
    );
    await page.evaluate(() =>
      (globalThis as unknown as Harness).__compute.send({ type: 'run-anything', code: 'alert(1)' }),
    );
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as Harness).__compute.stray()))
      .toEqual([
        expect.objectContaining({ type: 'failed', id: 9999, code: 'BAD_REQUEST' }),
        expect.objectContaining({ type: 'failed', id: null, code: 'BAD_REQUEST' }),
      ]);
  });

  it('reports a dropped device as lost and answers NOT_READY until re-initialised', async () => {
    await page.evaluate(() => (globalThis as unknown as { __compute: { drop(): void } }).__compute.drop());
    await expect
      .poll(() =>
        page.evaluate(() => (globalThis as unknown as { __compute: { lost(): Reply[] } }).__compute.lost().length),
      )
      .toBe(1);
    expect(digests(await hashAll([{ kind: 'vector', len: 1 }]))).toEqual([expect.stringMatching(/^failed: NOT_READY/)]);
    expect(await init()).toMatchObject({ type: 'ready' });
    expect(digests(await hashAll([{ kind: 'vector', len: 1025 }]))).toEqual([
      vectors.find((v) => v.input_len === 1025)?.hash,
    ]);
  });
});
