import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlake3, nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { setLogSink, type LogRecord } from '../../src/node/log.js';
import { createMarketServer, type MarketServer } from '../../src/market/market-server.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import { attachValidator } from '../../src/market/validator/attach.js';
import type { ValidatorService } from '../../src/market/validator/validator-service.js';
import { authSigningBytes, CLOSE_CODES, type MarketFrame } from '../../src/shared/market-protocol.js';
import { RawProvider } from '../support/raw-provider.js';
import { until } from '../support/wait.js';

// The market logs every internal error once, with its stack, to the process-wide sink (what
// `tessera market` writes to stderr): an answer saying "it has been logged" must be true.
const root = mkdtempSync(join(tmpdir(), 'tessera-market-log-'));
const lines: LogRecord[] = [];
let restoreSink: () => void;
let store: MarketStore;
let server: MarketServer;
let validator: ValidatorService;
let base: string;
let failAuth = false;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  restoreSink = setLogSink((r) => lines.push(r));
  const blake3 = await loadBlake3();
  store = await MarketStore.open(await openPgliteDriver(undefined));
  // The market's clock runs a day ahead of the system's: what the market says about time must come from it.
  const clock = { now: () => Date.now() + DAY_MS };
  server = await createMarketServer({
    store,
    clock,
    blake3,
    dataDir: root,
    expirySweepMs: 0,
    processMetrics: false,
    // The fault injected into the task routes: their customer check throws a plain Error (a bug, not a refusal).
    auth: async (header) => {
      if (failAuth) throw new Error('injected fault in the customer check');
      return server.customers.authenticate(header);
    },
  });
  validator = await attachValidator({
    app: server.app,
    store,
    clock,
    blake3,
    sha256: nodeSha256,
    digestThreads: 0,
    marketId: 'log-test',
    config: { batchMs: 0 },
    logger: server.logger,
  });
  base = await server.listen('127.0.0.1', 0);
});

afterAll(async () => {
  await validator?.close();
  await server?.close();
  await store?.close();
  restoreSink?.();
  rmSync(root, { recursive: true, force: true });
});

const errorLines = () => lines.filter((l) => l.level === 'error');

describe('market logging', () => {
  it('an internal error in a route answers 500 {error:{code,message}} and writes exactly one error line with its stack', async () => {
    lines.length = 0;
    failAuth = true;
    try {
      const res = await fetch(`${base}/tasks`, { headers: { authorization: 'Bearer tsk_whatever' } });
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body).toEqual({ error: { code: 'INTERNAL', message: expect.stringContaining('it has been logged') } });
    } finally {
      failAuth = false;
    }
    const errors = errorLines();
    expect(errors).toHaveLength(1);
    const [line] = errors as [LogRecord];
    expect(Object.keys(line)[0]).toBe('msg');
    expect(line).toMatchObject({
      msg: 'request failed',
      module: 'market-http',
      method: 'GET',
      route: '/tasks',
      error: 'injected fault in the customer check',
    });
    expect(line.stack).toEqual(expect.stringContaining('injected fault in the customer check\n    at '));
  });

  it("a client's bad request is not logged as an error", async () => {
    lines.length = 0;
    const res = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(errorLines()).toEqual([]);
  });

  it('an internal error on the provider socket closes it with INTERNAL (1011) and writes one error line with its stack', async () => {
    lines.length = 0;
    const authenticate = validator.authenticate.bind(validator);
    validator.authenticate = () => Promise.reject(new Error('injected fault in authenticate'));
    try {
      const p = new RawProvider(base, await loadBlake3(), new Uint8Array(32).fill(7));
      await p.open();
      const ch = p.frames.find((f) => f.type === 'challenge') as Extract<MarketFrame, { type: 'challenge' }>;
      p.sendJson({
        type: 'auth',
        version: 1,
        public_key: p.signer.nodeId,
        signature: p.signer.sign(authSigningBytes(ch.market_id, ch.nonce)),
      });
      await until(
        'socket closed',
        () => p.closeCode,
        (c) => c !== undefined,
        5000,
      );
      expect(p.closeCode).toBe(CLOSE_CODES.internalError);
      expect(p.frames.find((f) => f.type === 'error')).toMatchObject({ type: 'error', code: 'INTERNAL' });
    } finally {
      validator.authenticate = authenticate;
    }
    const errors = errorLines();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      msg: 'provider socket frame failed',
      module: 'provider-socket',
      error: 'injected fault in authenticate',
    });
    expect(errors[0]?.stack).toEqual(expect.stringContaining('injected fault in authenticate'));
  });

  it("the welcome frame's server_time is the market's clock, not the system's", async () => {
    const p = new RawProvider(base, await loadBlake3(), new Uint8Array(32).fill(9));
    await p.join();
    const welcome = p.frames.find((f) => f.type === 'welcome') as Extract<MarketFrame, { type: 'welcome' }>;
    expect(welcome.server_time).toBeGreaterThan(Date.now() + DAY_MS / 2);
    p.ws.close();
  });
});
