import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MARKET_LIVENESS,
  MarketClient,
  type MarketClientState,
} from '../../src/main/services/market-client.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';
import type { ProviderFrame } from '../../src/shared/market-protocol.js';
import { manualClock } from '../support/clock.js';
import { seededRandom } from '../support/data.js';
import { startMarket, type Market } from '../support/market.js';
import { seedFrom } from '../support/raw-provider.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const SEED = 0x11fe;
console.log(`market client liveness test seed ${SEED}`);
const root = mkdtempSync(join(tmpdir(), 'tessera-client-liveness-'));
let m: Market;

beforeAll(async () => {
  m = await startMarket(root, { checkFraction: 0 });
});
afterAll(async () => {
  await m?.close();
  rmSync(root, { recursive: true, force: true });
});

const caps: Extract<ProviderFrame, { type: 'capabilities' }> = {
  type: 'capabilities',
  cpu_threads: 1,
  gpu: null,
  mbps: 100,
  lanes: ['consumer'],
  ask: '0',
  max_jobs: 1,
};

/** A client whose every state change is logged; `until` resolves on the first state after `from` that `pred` accepts. */
function watchedClient(url: string, seed: number) {
  const clock = manualClock();
  const states: { state: MarketClientState; detail: string | undefined }[] = [];
  const waiters = new Set<() => void>();
  const client = new MarketClient({
    url,
    signer: ed25519SignerFromSeed(seedFrom(seed)),
    capabilities: () => caps,
    onFrame: () => undefined,
    onState: (state, detail) => {
      states.push({ state, detail });
      for (const w of [...waiters]) w();
    },
    backoff: { baseMs: 1, capMs: 5 },
    random: seededRandom(seed),
    clock,
  });
  const until = (what: string, pred: (s: MarketClientState) => boolean, from = 0): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const check = (): boolean => {
        const i = states.findIndex((s, n) => n >= from && pred(s.state));
        if (i < 0) return false;
        waiters.delete(waiter);
        clearTimeout(timer);
        resolve(i);
        return true;
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}; states: ${states.map((s) => s.state).join(' → ')}`));
      }, 30_000);
      waiters.add(waiter);
      check();
    });
  return { client, clock, states, until };
}

describe('the provider notices a dead market connection', () => {
  it('a black-holed connection is dropped once a ping goes unanswered for deadMs, and the node reconnects', async () => {
    const proxy = await TcpProxy.start(Number(new URL(m.base).port));
    const { client, clock, states, until } = watchedClient(proxy.url, SEED);
    const { pingMs, deadMs } = DEFAULT_MARKET_LIVENESS;
    try {
      client.start();
      await until('the first welcome', (s) => s === 'connected');

      // The path dies silently: no FIN, no RST, nothing in either direction.
      proxy.blackhole();
      clock.advance(pingMs);
      client.checkLivenessNow(); // silent for pingMs: a ping goes out (into the hole)
      expect(client.state).toBe('connected');
      clock.advance(deadMs - pingMs - 1);
      client.checkLivenessNow();
      expect(client.state).toBe('connected');
      clock.advance(1);
      client.checkLivenessNow(); // deadMs without anything from the market: the connection is dead
      expect(client.state).toBe('disconnected');
      expect(client.lastFailure?.error).toMatch(/nothing from the market for 45 s/);
      const dropped = states.length - 1;

      // The path heals: the next attempt (after the usual backoff) is welcomed.
      proxy.heal();
      await until('the welcome after the reconnect', (s) => s === 'connected', dropped);
      expect(client.lastFailure).toBeNull();
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('an attempt whose handshake never completes is dropped after handshakeMs and retried', async () => {
    const proxy = await TcpProxy.start(Number(new URL(m.base).port));
    const { client, clock, until } = watchedClient(proxy.url, SEED + 1);
    const { handshakeMs } = DEFAULT_MARKET_LIVENESS;
    try {
      proxy.blackhole(); // the TCP connect succeeds; the upgrade request is never answered
      client.start();
      expect(client.state).toBe('connecting');
      clock.advance(handshakeMs - 1);
      client.checkLivenessNow();
      expect(client.state).toBe('connecting');
      clock.advance(1);
      client.checkLivenessNow();
      expect(client.state).toBe('disconnected');
      expect(client.lastFailure?.error).toMatch(/did not complete the handshake .* within 20 s/);

      const retried = await until('the next attempt', (s) => s === 'connecting', 1);
      proxy.heal();
      await until('the welcome once the path heals', (s) => s === 'connected', retried);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('a healthy connection that answers pings is kept however long the market has nothing to say', async () => {
    const { client, clock, until } = watchedClient(m.base, SEED + 2);
    const { pingMs, deadMs } = DEFAULT_MARKET_LIVENESS;
    try {
      client.start();
      await until('the welcome', (s) => s === 'connected');
      for (let round = 0; round < 3; round++) {
        clock.advance(pingMs);
        const pong = new Promise<void>((resolve) => {
          const off = client.onDidHearMarket(() => {
            off();
            resolve();
          });
        });
        client.checkLivenessNow(); // a ping goes out
        await pong; // … and the market's pong comes back
        clock.advance(deadMs - pingMs);
        client.checkLivenessNow();
        expect(client.state).toBe('connected');
      }
    } finally {
      await client.close();
    }
  });
});
