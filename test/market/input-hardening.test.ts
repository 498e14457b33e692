import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import type { MarketStore } from '../../src/market/store/market-store.js';
import type { ValidatorService } from '../../src/market/validator/validator-service.js';
import { createLogger } from '../../src/node/log.js';
import { CLOSE_CODES } from '../../src/shared/market-protocol.js';
import { fundedCustomer, openMarket, type MarketInstance } from '../support/market-harness.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { storeHarnesses } from './store-harness.js';

/**
 * Bad input at the market's edges — HTTP bodies, URLs, raw HTTP, provider frames — is refused
 * with the documented error shape and code, on PGlite and (with TESSERA_TEST_PG_URL) on
 * PostgreSQL, where a NUL reaching an INSERT used to be a 500 or a 1011.
 */
const SEED = 0x19a7;
console.log(`input hardening test seed ${SEED}`);
const root = mkdtempSync(join(tmpdir(), 'tessera-input-'));
const harnesses = storeHarnesses(() => mkdtempSync(join(root, 'pglite-')));

afterAll(() => rmSync(root, { recursive: true, force: true }));

const SLICE_MAX = 4096;
const DRAFTS = { maxOpenDrafts: 2, maxDraftBytes: 10_000 };
const INFERENCE = { model_id: 'm', prompt: 'Hello', max_tokens: 10 };

describe.each(harnesses)('market input hardening on $name', (harness) => {
  let market: MarketInstance | undefined;
  let store: MarketStore;
  let validator: ValidatorService;
  let base: string;
  let port: number;
  let blake3: Blake3Hasher;
  let key: string;
  let poorKey: string;
  let customerId: string;
  let seedN = SEED;

  beforeAll(async () => {
    market = await openMarket({
      store: async () => harness.open(await harness.newLocation()),
      dataDir: mkdtempSync(join(root, 'data-')),
      logger: createLogger('market'),
      server: {
        sliceLimits: { maxSliceBytes: SLICE_MAX, maxSlices: 8 },
        draftLimits: DRAFTS,
        httpTimeouts: { requestTimeoutMs: 300, checkIntervalMs: 50 },
      },
      config: { practice: false, batchMs: 0, sweepMs: 100, heartbeatMs: 100 },
      marketId: 'test-market',
    });
    ({ store, validator, base, blake3 } = market);
    port = Number(new URL(base).port);
    const alice = await fundedCustomer(market.server);
    key = alice.customerKey;
    customerId = alice.customer.customerId;
    poorKey = (await market.server.customers.add('zero')).apiKey;
  });

  afterAll(async () => {
    await market?.close();
  });

  async function call(
    method: string,
    path: string,
    o: { body?: string | Uint8Array; type?: string; as?: string } = {},
  ) {
    const headers: Record<string, string> = { authorization: `Bearer ${o.as ?? key}` };
    if (o.type) headers['content-type'] = o.type;
    const res = await fetch(`${base}${path}`, { method, headers, ...(o.body === undefined ? {} : { body: o.body }) });
    const text = await res.text();
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, text };
  }
  const post = (body: string, as?: string) =>
    call('POST', '/tasks', { body, type: 'application/json', ...(as ? { as } : {}) });
  const errorOf = (r: { json: Record<string, unknown> }) =>
    r.json.error as { code: string; message: string; field?: string };
  const taskCount = () =>
    store.transaction(async (tx) => (await tx.tasks.list({ customerId, limit: 1, offset: 0 })).total);

  /** A raw HTTP/1.1 exchange: what the server wrote before it closed the connection. */
  function rawHttp(request: string): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString('utf8')));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', body = ''] = out.split('\r\n\r\n');
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), json });
      });
    });
  }

  describe('HTTP', () => {
    it.each([
      [
        'a NUL in the prompt',
        `{"challenge_type":"inference","payload":{"model_id":"m","prompt":"a\\u0000b","max_tokens":10},"reward":"1"}`,
        'payload.prompt',
        /NUL/,
      ],
      [
        'a lone surrogate in the model id',
        `{"challenge_type":"inference","payload":{"model_id":"\\ud800","prompt":"p","max_tokens":10},"reward":"1"}`,
        'payload.model_id',
        /lone UTF-16 surrogate \(\\ud800\)/,
      ],
      [
        'a lone low surrogate in a URL',
        `{"challenge_type":"training","payload":{"model_architecture":"r","dataset_url":"https://e.org/\\udc00","epochs":1,"batch_size":1},"reward":"1"}`,
        'payload.dataset_url',
        /surrogate/,
      ],
      [
        'a NUL in a key',
        `{"challenge_type":"inference","payload":{"model_id":"m","prompt":"p","max_tokens":10,"x\\u0000":1},"reward":"1"}`,
        'payload."x\\u0000"',
        /key contains a NUL/,
      ],
    ])('refuses %s with 400 INVALID_FIELD naming the field; nothing is stored', async (_what, body, field, message) => {
      const before = await taskCount();
      const r = await post(body);
      expect(r.status, r.text).toBe(400);
      expect(errorOf(r)).toMatchObject({ code: 'INVALID_FIELD', field });
      expect(errorOf(r).message).toMatch(message);
      expect(errorOf(r).message.startsWith(`${field}: `)).toBe(true);
      expect(errorOf(r).message).not.toMatch(/\n/);
      expect(await taskCount()).toBe(before);
    });

    it('keeps a well-formed surrogate pair (an emoji) and other Unicode', async () => {
      const r = await post(
        JSON.stringify({
          challenge_type: 'inference',
          payload: { ...INFERENCE, prompt: 'ok 😀 é \ud83d\ude00' },
          reward: '1',
        }),
      );
      expect(r.status, r.text).toBe(201);
    });

    it('refuses a NUL on the courier inbox too (400 naming the field, not 500)', async () => {
      const r = await call('POST', '/courier/receipts', {
        body: `{"node_id":"${'a'.repeat(64)}","receipts":[{"id":"x","bundle_hash":"${'b'.repeat(64)}","bytes":1,"sender":"al\\u0000ice","created_at":1,"signature":"${'c'.repeat(128)}","bundle":"AA=="}]}`,
        type: 'application/json',
      });
      expect(r.status, r.text).toBe(400);
      expect(errorOf(r)).toMatchObject({ code: 'INVALID_FIELD', field: 'receipts.0.sender' });
    });

    it('names a __proto__ key precisely (not "not valid JSON"), and stores nothing', async () => {
      const before = await taskCount();
      const r = await post(
        `{"challenge_type":"inference","payload":{"model_id":"m","prompt":"p","max_tokens":10,"__proto__":{"x":1}},"reward":"1"}`,
      );
      expect(r.status).toBe(400);
      expect(errorOf(r)).toMatchObject({ code: 'INVALID_FIELD', field: 'payload.__proto__' });
      expect(errorOf(r).message).toMatch(/^payload\.__proto__: the key "__proto__" is not allowed/);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
      expect(await taskCount()).toBe(before);
    });

    it('says a 100,001-character prompt is too long and gives the limit', async () => {
      // Under the 256 KiB body limit, so the schema (not the body limit) answers.
      const r = await post(
        JSON.stringify({
          challenge_type: 'inference',
          payload: { ...INFERENCE, prompt: 'x'.repeat(100_001) },
          reward: '1',
        }),
      );
      expect(r.status).toBe(400);
      expect(errorOf(r)).toMatchObject({ code: 'INVALID_FIELD', field: 'payload.prompt' });
      expect(errorOf(r).message).toBe('payload.prompt: is too long: 100001 characters, the limit is 100000');
      const ok = await post(
        JSON.stringify({
          challenge_type: 'inference',
          payload: { ...INFERENCE, prompt: 'x'.repeat(100_000) },
          reward: '1',
        }),
      );
      expect(ok.status).toBe(201);
      const model = await post(
        JSON.stringify({
          challenge_type: 'inference',
          payload: { ...INFERENCE, model_id: 'm'.repeat(201) },
          reward: '1',
        }),
      );
      expect(errorOf(model).message).toBe('payload.model_id: is too long: 201 characters, the limit is 200');
      const notString = await post(
        JSON.stringify({ challenge_type: 'inference', payload: { ...INFERENCE, prompt: 7 }, reward: '1' }),
      );
      expect(errorOf(notString).message).toBe('payload.prompt: must be a string');
    });

    const shape = (r: { json: Record<string, unknown> | undefined }) => {
      expect(Object.keys(r.json ?? {})).toEqual(['error']);
      const e = (r.json as { error: { code: unknown; message: unknown } }).error;
      expect(typeof e.code).toBe('string');
      expect(typeof e.message).toBe('string');
      return e as { code: string; message: string };
    };

    it('answers a duplicate Content-Length (refused by Node before Fastify) in the documented shape', async () => {
      const r = await rawHttp(
        `POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      );
      expect(r.status).toBe(400);
      expect(shape(r)).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringMatching(/Content-Length/) });
    });

    it('answers headers over 16 KiB with 431 HEADERS_TOO_LARGE', async () => {
      const r = await rawHttp(`GET /tasks HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(r.status).toBe(431);
      expect(shape(r).code).toBe('HEADERS_TOO_LARGE');
    });

    it('answers a path parameter over 100 characters with 414 URI_TOO_LONG', async () => {
      const r = await call('GET', `/tasks/${'a'.repeat(150)}`);
      expect(r.status).toBe(414);
      expect(shape(r)).toMatchObject({ code: 'URI_TOO_LONG', message: expect.stringMatching(/longer than 100/) });
    });

    it('answers a path that is not valid percent-encoding with 400 MALFORMED_REQUEST', async () => {
      const r = await rawHttp(`GET /tasks/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(r.status).toBe(400);
      expect(shape(r).code).toBe('MALFORMED_REQUEST');
    });

    it('answers a request that does not arrive in time with 408 REQUEST_TIMEOUT', async () => {
      const r = await rawHttp(
        `POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n`,
      );
      expect(r.status).toBe(408);
      expect(shape(r).code).toBe('REQUEST_TIMEOUT');
    });
  });

  describe('draft quota', () => {
    const draft = (as = key) =>
      post(
        JSON.stringify({
          challenge_type: 'rendering',
          payload: { scene_file: 'https://e.org/s', resolution: '10x10', frames: 1 },
          reward: '1',
          input: 'slices',
        }),
        as,
      );
    const put = (id: string, n: number, bytes: number, as = key) =>
      call('PUT', `/tasks/${id}/slices/${n}`, {
        body: new Uint8Array(bytes).fill(n + 1),
        type: 'application/octet-stream',
        as,
      });
    const putChunked = async (id: string, n: number, bytes: number) => {
      const res = await fetch(`${base}/tasks/${id}/slices/${n}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${poorKey}`, 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(bytes));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };

    it('bounds the drafts and draft bytes of a customer with no balance; delete and submit free room', async () => {
      const a = await draft(poorKey);
      const b = await draft(poorKey);
      expect([a.status, b.status]).toEqual([201, 201]);
      const third = await draft(poorKey);
      expect(third.status).toBe(409);
      expect(errorOf(third)).toMatchObject({ code: 'TOO_MANY_DRAFTS' });
      expect(errorOf(third).message).toMatch(/the limit is 2/);
      const idA = a.json.task_id as string;
      const idB = b.json.task_id as string;
      expect((await put(idA, 0, 4096, poorKey)).status).toBe(201);
      expect((await put(idA, 1, 4096, poorKey)).status).toBe(201);
      // 8192 of 10000 used: 1808 left.
      const over = await put(idB, 0, 2000, poorKey);
      expect(over.status).toBe(413);
      expect(errorOf(over)).toMatchObject({ code: 'DRAFT_QUOTA_EXCEEDED' });
      expect(errorOf(over).message).toMatch(/1808 bytes left of this customer's quota of 10000/);
      const chunked = await putChunked(idB, 0, 2000);
      expect(chunked.status).toBe(413);
      expect(errorOf(chunked).code).toBe('DRAFT_QUOTA_EXCEEDED');
      // Replacing a slice counts its new size only.
      expect((await put(idA, 1, 100, poorKey)).status).toBe(201);
      expect((await put(idB, 0, 4096, poorKey)).status).toBe(201);
      expect((await call('GET', `/tasks/${idB}`, { as: poorKey })).json).toMatchObject({ input: { slices: 1 } });
      // Deleting a draft frees a draft and its bytes.
      const del = await call('DELETE', `/tasks/${idB}`, { as: poorKey });
      expect(del).toMatchObject({ status: 200, json: { task_id: idB, deleted: true } });
      expect((await call('GET', `/tasks/${idB}`, { as: poorKey })).status).toBe(404);
      const c = await draft(poorKey);
      expect(c.status).toBe(201);
      expect((await put(c.json.task_id as string, 0, 4096, poorKey)).status).toBe(201);
      // Another customer's quota is separate; a submitted task is not a draft and cannot be deleted.
      const mine = await draft();
      expect((await put(mine.json.task_id as string, 0, 4096)).status).toBe(201);
      expect((await call('POST', `/tasks/${mine.json.task_id as string}/submit`)).status).toBe(200);
      const notDraft = await call('DELETE', `/tasks/${mine.json.task_id as string}`);
      expect(notDraft.status).toBe(409);
      expect(errorOf(notDraft).code).toBe('TASK_NOT_DRAFT');
    });

    it('lets only one of two concurrent uploads take the last room', async () => {
      const d = await draft();
      const id = d.json.task_id as string;
      // Alice holds 0 draft bytes (her earlier draft was submitted): 10000 room; 2 × 4096 fit, a third does not.
      expect((await put(id, 0, 4096)).status).toBe(201);
      const both = await Promise.all([put(id, 1, 4000), put(id, 2, 4000)]);
      expect(both.map((r) => r.status).sort()).toEqual([201, 413]);
      const total = await store.transaction((tx) => tx.tasks.draftUsage(customerId));
      expect(total.bytes).toBeLessThanOrEqual(DRAFTS.maxDraftBytes);
    });
  });

  describe('provider socket', () => {
    async function joined(): Promise<RawProvider> {
      const p = new RawProvider(base, blake3, seedFrom(seedN++));
      await p.join();
      return p;
    }
    const errorFrame = (p: RawProvider) =>
      p.frames.find((f) => f.type === 'error') as { code: string; message: string };

    /** A provider holding the job of a fresh synthetic task. */
    async function holding(): Promise<{ p: RawProvider; jobId: string }> {
      const p = await joined();
      const r = await post(
        JSON.stringify({ challenge_type: 'synthetic', payload: { matrix_size: 2, iterations: 1 }, reward: '1' }),
      );
      expect(r.status).toBe(201);
      validator.kick();
      const job = await p.nextJob();
      return { p, jobId: job.job_id };
    }

    it('refuses job_lost with a job id that is not a UUID as a bad frame (4000), not 1011', async () => {
      const p = await joined();
      p.sendJson({ type: 'job_lost', job_id: 'not-a-uuid', reason: 'x' });
      expect(await p.closed()).toBe(CLOSE_CODES.malformed);
      expect(errorFrame(p)).toMatchObject({ code: 'MALFORMED_FRAME', message: expect.stringMatching(/^job_id: /) });
    });

    it.each([
      ['a NUL', 'lost\u0000here', /NUL/],
      ['a lone surrogate', 'lost \ud800', /lone UTF-16 surrogate/],
    ])(
      'refuses job_lost whose reason holds %s (4000 naming reason); the lease is kept',
      async (_what, reason, message) => {
        const { p, jobId } = await holding();
        p.sendJson({ type: 'job_lost', job_id: jobId, reason });
        expect(await p.closed()).toBe(CLOSE_CODES.malformed);
        expect(errorFrame(p).message).toMatch(/^reason: /);
        expect(errorFrame(p).message).toMatch(message);
        const job = await store.transaction((tx) => tx.validator.job(jobId, false));
        expect(job?.status).toBe('leased');
      },
    );

    it('refuses a lone surrogate in the capabilities (4000 naming gpu.name)', async () => {
      const p = new RawProvider(base, blake3, seedFrom(seedN++));
      await p.open();
      const ch = p.frames.find((f) => f.type === 'challenge') as { market_id: string; nonce: string };
      const { authSigningBytes } = await import('../../src/shared/market-protocol.js');
      p.sendJson({
        type: 'auth',
        version: 1,
        public_key: p.signer.nodeId,
        signature: p.signer.sign(authSigningBytes(ch.market_id, ch.nonce)),
      });
      p.sendJson({
        type: 'capabilities',
        cpu_threads: 1,
        gpu: { name: 'card \udfff', vendor: 'v', software: false },
        mbps: 1,
        lanes: ['consumer'],
        ask: '0',
        max_jobs: 1,
      });
      expect(await p.closed()).toBe(CLOSE_CODES.malformed);
      expect(errorFrame(p).message).toMatch(/^gpu\.name: contains a lone UTF-16 surrogate/);
    });

    it('refuses a __proto__ key in a frame (4000 naming it)', async () => {
      const p = await joined();
      p.sendRaw('{"type":"heartbeat","sent_at":1,"in_flight":[],"__proto__":{"polluted":true}}');
      expect(await p.closed()).toBe(CLOSE_CODES.malformed);
      expect(errorFrame(p).message).toMatch(/^__proto__: /);
    });

    it('refuses a result whose nonce is a JSON number (4000: the nonce is a decimal string on the wire)', async () => {
      const { p, jobId } = await holding();
      const job = p.jobs().find((j) => j.job_id === jobId);
      if (!job) throw new Error('no job frame');
      const result = { ...p.resultJson(job, blake3, 7n), nonce: 7 };
      p.sendJson({ type: 'result', result, epoch: job.epoch });
      expect(await p.closed()).toBe(CLOSE_CODES.malformed);
      expect(errorFrame(p).message).toMatch(/^result\.nonce: must be a decimal string/);
    });

    it('refuses a signed result for a job id that is not a UUID as a bad frame (4000), without failing other results', async () => {
      const { p, jobId } = await holding();
      const job = p.jobs().find((j) => j.job_id === jobId);
      if (!job) throw new Error('no job frame');
      p.sendJson({ type: 'result', result: p.resultJson(job, blake3, 9n, { job_id: 'job-7' }), epoch: job.epoch });
      expect(await p.closed()).toBe(CLOSE_CODES.malformed);
      expect(errorFrame(p).message).toMatch(/^result\.job_id: /);
    });
  });
});
