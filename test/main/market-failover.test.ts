import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MarketClient, type MarketEndpoint } from '../../src/main/services/market-client.js';
import type { HostResolver } from '../../src/main/services/market-endpoints.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';
import type { MarketFrame, ProviderFrame } from '../../src/shared/market-protocol.js';
import { seededRandom } from '../support/data.js';
import { startMarket, type Market } from '../support/market.js';
import { seedFrom } from '../support/raw-provider.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A provider's connection fails over among the market's endpoints: each address of a DNS name,
 * and the instances a market names in its welcome. Names under .invalid never resolve for real:
 * an injected resolver answers them, so the tests need no DNS.
 */
const SEED = 0xfa11;
console.log(`market failover test seed ${SEED}`);

const caps: Extract<ProviderFrame, { type: 'capabilities' }> = {
  type: 'capabilities',
  cpu_threads: 1,
  gpu: null,
  mbps: 100,
  lanes: ['consumer'],
  ask: '0',
  max_jobs: 1,
};

function resolver(table: Record<string, string[]>): HostResolver {
  return async (host) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: 4 }));
  };
}

function client(url: string | string[], resolve: HostResolver, seed: number, frames: MarketFrame[] = []): MarketClient {
  return new MarketClient({
    url,
    signer: ed25519SignerFromSeed(seedFrom(seed)),
    capabilities: () => caps,
    onFrame: (f) => void frames.push(f),
    backoff: { baseMs: 20, capMs: 200 },
    random: seededRandom(seed),
    resolve,
  });
}

/** Resolves with the endpoint of the client's next welcome. */
function nextWelcome(c: MarketClient, ms = 30_000): Promise<MarketEndpoint> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no welcome within ${ms} ms; state ${c.state}, failure ${JSON.stringify(c.lastFailure)}`));
    }, ms);
    const off = c.onDidConnect((e) => {
      off();
      clearTimeout(timer);
      resolve(e);
    });
  });
}

/** A bare WebSocket server that answers nothing: it records each upgrade request, and `next` resolves on the next one. */
async function recordingServer() {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const waiting: ((r: IncomingMessage) => void)[] = [];
  wss.on('connection', (_ws, req) => waiting.shift()?.(req));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    next: (ms = 30_000) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms);
        waiting.push((r) => {
          clearTimeout(timer);
          resolve(r);
        });
      }),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** One market for the file; `peers` is what its welcome names as the other instances. */
const root = mkdtempSync(join(tmpdir(), 'tessera-failover-'));
let m: Market;
let peers: string[] = [];
beforeAll(async () => {
  m = await startMarket(root, { checkFraction: 0 }, { peerUrls: async () => peers });
});
afterAll(async () => {
  await m?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('market failover', () => {
  it('a DNS name with two addresses is two endpoints: the refused one is left for the other, which welcomes the node', async () => {
    peers = [];
    const port = new URL(m.base).port;
    // 127.0.0.3 is a loopback address nothing listens on (the market listens on 127.0.0.1 only): refused at once.
    const c = client(`http://market.invalid:${port}`, resolver({ 'market.invalid': ['127.0.0.3', '127.0.0.1'] }), SEED);
    const failures: string[] = [];
    c.onDidChangeState((s) => {
      if (s === 'disconnected') failures.push(c.lastFailure?.error ?? '');
    });
    try {
      const welcomed = nextWelcome(c);
      c.start();
      const endpoint = await welcomed;
      expect(endpoint.address).toBe('127.0.0.1');
      expect(endpoint.socketUrl).toBe(`ws://market.invalid:${port}/ws/provider`);
      expect(c.endpointLabel).toBe(`http://market.invalid:${port} (127.0.0.1)`);
      expect(failures).toEqual([expect.stringContaining(`127.0.0.3:${port}`)]);
      expect((await c.listEndpoints()).map((e) => e.address)).toEqual(['127.0.0.3', '127.0.0.1']);
    } finally {
      await c.close();
    }
  });

  it("the instances a welcome names join the endpoints after the configured ones, and the node fails over to them with the instance's name in its Host header", async () => {
    const b = await recordingServer();
    const learned = `http://b.invalid:${b.port}`;
    peers = [learned, 'ftp://not-a-market.invalid', 'not a url'];
    const frames: MarketFrame[] = [];
    const c = client(m.base, resolver({ 'b.invalid': ['127.0.0.1'] }), SEED + 1, frames);
    try {
      const welcomed = nextWelcome(c);
      c.start();
      await welcomed;
      const welcome = frames.find((f) => f.type === 'welcome');
      expect(welcome?.type === 'welcome' ? welcome.instances : undefined).toEqual([
        learned,
        'ftp://not-a-market.invalid',
        'not a url',
      ]);
      expect(c.learnedUrls).toEqual([learned]);
      expect((await c.listEndpoints()).map((e) => [e.url, e.source])).toEqual([
        [m.base, 'configured'],
        [learned, 'learned'],
      ]);

      // The connection to the configured instance drops: the next attempt goes to the learned one, by its name.
      const arrived = b.next();
      c.dropConnection();
      const req = await arrived;
      expect(req.headers.host).toBe(`b.invalid:${b.port}`);
      expect(req.url).toBe('/ws/provider');
      expect(c.endpoint?.url).toBe(learned);
    } finally {
      await c.close();
      await b.close();
    }
  });

  it('a market without other instances sends no instances field', async () => {
    peers = [];
    const frames: MarketFrame[] = [];
    const c = client(m.base, resolver({}), SEED + 2, frames);
    try {
      const welcomed = nextWelcome(c);
      c.start();
      await welcomed;
      expect(frames[0]?.type).toBe('welcome');
      expect(frames[0] && 'instances' in frames[0]).toBe(false);
      expect(c.learnedUrls).toEqual([]);
    } finally {
      await c.close();
    }
  });
});
