import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { toHex } from '../../src/core/hex.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { createMarketServer, type MarketServer } from '../../src/market/market-server.js';
import { payloadInputBytes } from '../../src/market/services/task-service.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';

const SEED = 0x7a5c;
const T0 = 1_800_000_000_000;
const clock = {
  t: T0,
  now() {
    return this.t;
  },
};
const root = mkdtempSync(join(tmpdir(), 'tessera-market-api-'));
let store: MarketStore;
let server: MarketServer;
let base: string;
let blake3: Blake3Hasher;
let aliceKey: string;
let bobKey: string;
let aliceId: string;

const PAYLOADS = {
  inference: { model_id: 'gpt-3.5-turbo', prompt: 'Hello, world!', max_tokens: 100, temperature: 0.7 },
  training: { model_architecture: 'resnet50', dataset_url: 'https://example.org/data', epochs: 10, batch_size: 32 },
  rendering: {
    scene_file: 'https://example.org/scene.blend',
    resolution: '1920x1080',
    frames: 100,
    gpu_required: true,
  },
  synthetic: { seed: '1234abcd5678ef90', matrix_size: 64, iterations: 2, lane: 'industrial' },
} as const;

/** A task's `verification` before it is split into jobs: nothing checked so far. */
const UNCHECKED_VERIFICATION = {
  requested: 'sampled',
  surcharge: '0.0',
  level: 'unchecked',
  jobs: 0,
  reexecuted: 0,
  agreed: 0,
  unchecked: 0,
  corrected: 0,
  corrections: 0,
};

async function call(
  method: string,
  path: string,
  o: { key?: string | null; json?: unknown; body?: string | Uint8Array; type?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (o.key !== null) headers.authorization = `Bearer ${o.key ?? aliceKey}`;
  let body: string | Uint8Array | undefined = o.body;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['content-type'] = 'application/json';
  }
  if (o.type) headers['content-type'] = o.type;
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') ?? '' };
}

const errorOf = (r: { json: Record<string, unknown> }) =>
  r.json.error as { code: string; message: string; field?: string; balance?: string; amount?: string };
const balance = () => server.customers.balance(aliceId);

beforeAll(async () => {
  blake3 = await loadBlake3();
  store = await MarketStore.open(await openPgliteDriver(join(root, 'store')));
  server = await createMarketServer({
    store,
    clock,
    blake3,
    dataDir: root,
    sliceLimits: { maxSliceBytes: 4096, maxSlices: 8 },
    expirySweepMs: 0,
    processMetrics: false,
  });
  base = await server.listen('127.0.0.1', 0);
  const alice = await server.customers.add('alice');
  aliceKey = alice.apiKey;
  aliceId = alice.customer.customerId;
  bobKey = (await server.customers.add('bob')).apiKey;
  await server.customers.fund('alice', 1_000_000_000n);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('market HTTP API', () => {
  it('answers /health and /metrics without a key', async () => {
    const h = await call('GET', '/health', { key: null });
    expect(h).toMatchObject({ status: 200, json: { status: 'ok', store: 'pglite' } });
    await call('POST', '/tasks', { json: { challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1.0' } });
    const m = await call('GET', '/metrics', { key: null });
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    expect(m.text).toMatch(/market_tasks_created_total\{challenge_type="synthetic"\} [1-9]/);
    expect(m.text).toMatch(/market_http_requests_total\{method="POST",route="\/tasks",status="201"\}/);
  });

  it('refuses requests without a valid bearer key, before reading the body', async () => {
    const none = await call('GET', '/tasks', { key: null });
    expect(none.status).toBe(401);
    expect(errorOf(none)).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(errorOf(none).message).toMatch(/Authorization: Bearer/);
    const bad = await call('GET', '/tasks', { key: 'tsk_not-a-key' });
    expect(bad.status).toBe(401);
    expect(errorOf(bad).code).toBe('INVALID_API_KEY');
    const big = await call('POST', '/tasks', { key: null, body: 'x'.repeat(2_000_000), type: 'application/json' });
    expect(big.status).toBe(401);
  });

  it.each(Object.entries(PAYLOADS))('creates a %s task, escrowing its reward', async (type, payload) => {
    const before = await balance();
    const r = await call('POST', '/tasks', {
      json: { challenge_type: type, payload, reward: '10.0', deadline: T0 / 1000 + 3600 },
    });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({
      task_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      status: 'pending',
      created_at: T0 / 1000,
    });
    expect(before - (await balance())).toBe(10_000_000n);
    const g = await call('GET', `/tasks/${r.json.task_id as string}`);
    expect(g.json).toEqual({
      task_id: r.json.task_id,
      challenge_type: type,
      status: 'pending',
      reward: '10.0',
      created_at: T0 / 1000,
      deadline: T0 / 1000 + 3600,
      input: { kind: 'payload', submitted: true, slices: 1 },
      // Not split into jobs yet: nothing checked so far.
      verification: UNCHECKED_VERIFICATION,
    });
    const stored = await store.transaction(async (tx) => tx.tasks.get(r.json.task_id as string));
    expect(stored).toMatchObject({
      gpuRequired: type === 'rendering',
      lane: type === 'synthetic' ? 'industrial' : 'consumer',
      payload,
    });
  });

  it("shows a completed task's result and a failed task's reason, and refunds an expired one", async () => {
    const a = await call('POST', '/tasks', {
      json: { challenge_type: 'inference', payload: PAYLOADS.inference, reward: '2.5' },
    });
    await store.transaction((tx) =>
      tx.tasks.complete(
        a.json.task_id as string,
        { resultHash: 'ab'.repeat(32), workerAddress: 'cpc1worker' },
        T0 + 5000,
      ),
    );
    expect((await call('GET', `/tasks/${a.json.task_id as string}`)).json).toMatchObject({
      status: 'completed',
      result: { result_hash: 'ab'.repeat(32), worker_address: 'cpc1worker', completed_at: T0 / 1000 + 5 },
    });

    const before = await balance();
    const b = await call('POST', '/tasks', {
      json: { challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '3.000001', deadline: T0 / 1000 + 60 },
    });
    expect(before - (await balance())).toBe(3_000_001n);
    clock.t = T0 + 59_000;
    expect(await server.tasks.expireOverdue()).toEqual([]);
    clock.t = T0 + 60_000;
    expect(await server.tasks.expireOverdue()).toEqual([b.json.task_id]);
    clock.t = T0;
    expect(await balance()).toBe(before);
    const g = await call('GET', `/tasks/${b.json.task_id as string}`);
    expect(g.json).toMatchObject({ status: 'failed', reason: expect.stringMatching(/deadline passed/) });
  });

  it("hides other customers' tasks and answers 404 for unknown ids, 400 for a malformed one", async () => {
    const a = await call('POST', '/tasks', {
      json: { challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1' },
    });
    const other = await call('GET', `/tasks/${a.json.task_id as string}`, { key: bobKey });
    expect(other.status).toBe(404);
    expect(errorOf(other).code).toBe('TASK_NOT_FOUND');
    expect((await call('GET', '/tasks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const bad = await call('GET', '/tasks/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(errorOf(bad)).toMatchObject({ code: 'INVALID_FIELD', field: 'task_id' });
    const route = await call('GET', '/nowhere');
    expect(route.status).toBe(404);
    expect(errorOf(route).code).toBe('NOT_FOUND');
  });

  it("lists a customer's tasks with filters and pagination; limit is capped at 100", async () => {
    const bob = (path: string) => call('GET', path, { key: bobKey });
    const ids: string[] = [];
    await server.customers.fund('bob', 100_000_000n);
    for (let i = 0; i < 5; i++) {
      clock.t = T0 + i * 1000;
      const r = await call('POST', '/tasks', {
        key: bobKey,
        json: {
          challenge_type: i < 2 ? 'rendering' : 'training',
          payload: i < 2 ? PAYLOADS.rendering : PAYLOADS.training,
          reward: '1.5',
        },
      });
      ids.push(r.json.task_id as string);
    }
    clock.t = T0;
    const all = await bob('/tasks');
    expect(all.json).toMatchObject({ total: 5, limit: 20, offset: 0 });
    expect((all.json.tasks as { task_id: string }[]).map((t) => t.task_id)).toEqual([...ids].reverse());
    expect((all.json.tasks as unknown[])[0]).toEqual({
      task_id: ids[4],
      challenge_type: 'training',
      status: 'pending',
      reward: '1.5',
      created_at: T0 / 1000 + 4,
      verification: UNCHECKED_VERIFICATION,
    });
    const page = await bob('/tasks?challenge_type=rendering&limit=1&offset=1');
    expect(page.json).toMatchObject({ total: 2, limit: 1, offset: 1, tasks: [{ task_id: ids[0] }] });
    expect((await bob('/tasks?status=completed')).json).toMatchObject({ total: 0, tasks: [] });
    expect((await bob('/tasks?limit=1000')).json).toMatchObject({ limit: 100 });
    for (const [q, field] of [
      ['status=done', 'status'],
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['offset=-1', 'offset'],
      ['challenge_type=mining', 'challenge_type'],
      ['colour=red', 'colour'],
    ] as const) {
      const r = await bob(`/tasks?${q}`);
      expect(r.status, q).toBe(400);
      expect(errorOf(r).field, q).toBe(field);
      expect(errorOf(r).message, q).toContain(field);
    }
  });

  it.each([
    [{ payload: PAYLOADS.synthetic, reward: '1' }, 'challenge_type'],
    [{ challenge_type: 'mining', payload: {}, reward: '1' }, 'challenge_type'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic }, 'reward'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: 10 }, 'reward'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1.1234567' }, 'reward'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '-1' }, 'reward'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '0' }, 'reward'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: 'ten' }, 'reward'],
    [
      { challenge_type: 'inference', payload: { ...PAYLOADS.inference, max_tokens: '100' }, reward: '1' },
      'payload.max_tokens',
    ],
    [{ challenge_type: 'inference', payload: { model_id: 'm', max_tokens: 5 }, reward: '1' }, 'payload.prompt'],
    [{ challenge_type: 'inference', payload: { ...PAYLOADS.inference, colour: 'red' }, reward: '1' }, 'payload.colour'],
    [
      { challenge_type: 'training', payload: { ...PAYLOADS.training, dataset_url: 'file:///etc/passwd' }, reward: '1' },
      'payload.dataset_url',
    ],
    [
      { challenge_type: 'rendering', payload: { ...PAYLOADS.rendering, resolution: 'big' }, reward: '1' },
      'payload.resolution',
    ],
    [
      { challenge_type: 'synthetic', payload: { ...PAYLOADS.synthetic, matrix_size: 5000 }, reward: '1' },
      'payload.matrix_size',
    ],
    [{ challenge_type: 'synthetic', payload: { ...PAYLOADS.synthetic, lane: 'fast' }, reward: '1' }, 'payload.lane'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1', deadline: 1.5 }, 'deadline'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1', deadline: T0 / 1000 }, 'deadline'],
    [{ challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1', input: 'disk' }, 'input'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const before = await balance();
    const r = await call('POST', '/tasks', { json: body });
    expect(r.status).toBe(400);
    expect(errorOf(r).code).toBe('INVALID_FIELD');
    expect(errorOf(r).field).toBe(field);
    expect(errorOf(r).message.startsWith(`${field}:`)).toBe(true);
    expect(await balance()).toBe(before);
  });

  it('answers 402 with the balance and the amount when funds are short, and creates nothing', async () => {
    const bal = await balance();
    const before = (await call('GET', '/tasks')).json.total;
    const r = await call('POST', '/tasks', {
      json: { challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1000000.0' },
    });
    expect(r.status).toBe(402);
    expect(errorOf(r)).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
      amount: '1000000.0',
      balance: (Number(bal) / 1e6).toString().includes('.') ? expect.any(String) : expect.any(String),
    });
    expect(errorOf(r).balance).toBe(
      `${bal / 1_000_000n}.${(bal % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '') || '0'}`,
    );
    expect(await balance()).toBe(bal);
    expect((await call('GET', '/tasks')).json.total).toBe(before);
  });

  it('answers 413 over the body limit, 415 for other content types, 400 for malformed JSON', async () => {
    const big = await call('POST', '/tasks', {
      json: {
        challenge_type: 'inference',
        payload: { ...PAYLOADS.inference, prompt: 'x'.repeat(300_000) },
        reward: '1',
      },
    });
    expect(big.status).toBe(413);
    expect(errorOf(big).code).toBe('BODY_TOO_LARGE');
    const text = await call('POST', '/tasks', { body: '{"challenge_type":"synthetic"}', type: 'text/plain' });
    expect(text.status).toBe(415);
    expect(errorOf(text).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    for (const body of ['{"challenge_type":', '[1,2', 'nope', '{"a":1}}']) {
      const r = await call('POST', '/tasks', { body, type: 'application/json' });
      expect(r.status, body).toBe(400);
      expect(['MALFORMED_JSON', 'INVALID_FIELD']).toContain(errorOf(r).code);
    }
    expect(errorOf(await call('POST', '/tasks', { body: '{"challenge_type":', type: 'application/json' })).code).toBe(
      'MALFORMED_JSON',
    );
    const arr = await call('POST', '/tasks', { json: [1, 2, 3] });
    expect(arr.status).toBe(400);
  });

  it('never answers a 500 to arbitrary bodies', async () => {
    console.log(`fast-check seed ${SEED}`);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.string(),
          fc
            .record({
              challenge_type: fc.constantFrom('inference', 'training', 'rendering', 'synthetic', 'x'),
              payload: fc.anything(),
              reward: fc.oneof(fc.string(), fc.double(), fc.constant('1.0')),
            })
            .map((o) => JSON.stringify(o)),
        ),
        async (body) => {
          const r = await call('POST', '/tasks', { body, type: 'application/json' });
          return (r.status < 500 && typeof errorOf(r)?.code === 'string') || r.status === 201;
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  describe('slice uploads', () => {
    const put = (id: string, n: number | string, bytes: Uint8Array, o: { key?: string; type?: string } = {}) =>
      call('PUT', `/tasks/${id}/slices/${n}`, {
        body: bytes,
        type: o.type ?? 'application/octet-stream',
        ...(o.key ? { key: o.key } : {}),
      });
    const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

    it('creates a draft, streams slices into the store, submits once with escrow', async () => {
      const r = await call('POST', '/tasks', {
        json: { challenge_type: 'rendering', payload: PAYLOADS.rendering, reward: '4.0', input: 'slices' },
      });
      expect(r.status).toBe(201);
      const id = r.json.task_id as string;
      expect(r.json).toMatchObject({
        status: 'pending',
        upload: { slices_url: `/tasks/${id}/slices/{n}`, submit_url: `/tasks/${id}/submit` },
      });
      expect((await call('GET', `/tasks/${id}`)).json).toMatchObject({
        status: 'pending',
        input: { kind: 'slices', submitted: false, slices: 0 },
      });
      const before = await balance();

      const noSlices = await call('POST', `/tasks/${id}/submit`);
      expect(noSlices.status).toBe(409);
      expect(errorOf(noSlices).code).toBe('SLICES_MISSING');

      const s0 = await put(id, 0, bytes(1000, 1));
      expect(s0.status).toBe(201);
      expect(s0.json).toEqual({ task_id: id, n: 0, bytes: 1000, blake3: toHex(blake3.hash(bytes(1000, 1))) });
      expect((await put(id, 1, bytes(4096, 2))).status).toBe(201);
      expect((await put(id, 3, bytes(10, 3))).status).toBe(201);
      const gap = await call('POST', `/tasks/${id}/submit`);
      expect(gap.status).toBe(409);
      expect(errorOf(gap).message).toMatch(/lacks slice 2/);
      expect((await put(id, 2, bytes(7, 4))).status).toBe(201);
      expect((await put(id, 0, bytes(5, 9))).json).toMatchObject({ bytes: 5 });
      // The bytes are in the store (each slice's latest upload only), not in the data dir.
      const read = (n: number, len: number) => store.transaction((tx) => tx.slices.read(id, n, 0, len));
      expect(Buffer.from((await read(0, 5)) as Uint8Array)).toEqual(Buffer.from(bytes(5, 9)));
      expect(Buffer.from((await read(3, 10)) as Uint8Array)).toEqual(Buffer.from(bytes(10, 3)));
      expect(await store.transaction((tx) => tx.slices.taskBytes(id))).toBe(5 + 4096 + 7 + 10);
      expect(await balance()).toBe(before);

      const other = await call('POST', `/tasks/${id}/submit`, { key: bobKey });
      expect(other.status).toBe(404);
      const ok = await call('POST', `/tasks/${id}/submit`);
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({
        task_id: id,
        status: 'pending',
        input: { kind: 'slices', submitted: true, slices: 4 },
      });
      expect(before - (await balance())).toBe(4_000_000n);
      expect(errorOf(await call('POST', `/tasks/${id}/submit`)).code).toBe('TASK_NOT_DRAFT');
      expect(errorOf(await put(id, 4, bytes(1, 1))).code).toBe('TASK_NOT_DRAFT');
    });

    it("refuses an oversized slice (413, nothing stored), a wrong content type (415), a payload task (409), a slice number past the limit (400), and others' tasks (404)", async () => {
      const r = await call('POST', '/tasks', {
        json: { challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1', input: 'slices' },
      });
      const id = r.json.task_id as string;
      const big = await put(id, 0, bytes(4097, 1));
      expect(big.status).toBe(413);
      expect(errorOf(big).code).toBe('SLICE_TOO_LARGE');
      // Chunked, without Content-Length: the streaming limit stops it.
      const chunked = await fetch(`${base}/tasks/${id}/slices/0`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(c) {
            c.enqueue(bytes(3000, 1));
            c.enqueue(bytes(1097, 1));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(((await chunked.json()) as { error: { code: string } }).error.code).toBe('SLICE_TOO_LARGE');
      expect(await store.transaction((tx) => tx.slices.taskBytes(id))).toBe(0);
      const json = await put(id, 0, bytes(3, 1), { type: 'application/json' });
      expect(json.status).toBe(415);
      expect(errorOf(json).code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect((await put(id, 8, bytes(1, 1))).json).toMatchObject({ error: { code: 'INVALID_FIELD', field: 'n' } });
      expect((await put(id, 'x', bytes(1, 1))).json).toMatchObject({ error: { code: 'INVALID_FIELD', field: 'n' } });
      expect((await put(id, 0, bytes(1, 1), { key: bobKey })).status).toBe(404);
      const payloadTask = await call('POST', '/tasks', {
        json: { challenge_type: 'synthetic', payload: PAYLOADS.synthetic, reward: '1' },
      });
      expect((await put(payloadTask.json.task_id as string, 0, bytes(1, 1))).status).toBe(409);
      expect((await call('GET', `/tasks/${id}`)).json).toMatchObject({ input: { slices: 0 } });
    });
  });

  it("defines a payload task's input bytes as its canonical JSON", () => {
    expect(payloadInputBytes({ max_tokens: 100, model_id: 'm', prompt: 'é', temperature: 0.7 }).toString('utf8')).toBe(
      '{"max_tokens":100,"model_id":"m","prompt":"é","temperature":0.7}',
    );
    expect(payloadInputBytes({ b: [1, { d: 1, c: 2 }], a: null }).toString('utf8')).toBe(
      '{"a":null,"b":[1,{"c":2,"d":1}]}',
    );
  });
});
