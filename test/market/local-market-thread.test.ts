import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalMarketThread } from '../../src/market/local-market-thread.js';
import { tempDir } from '../support/temp-dir.js';

/** Longest pause of this thread's event loop while `work` runs (a 10 ms timer's worst lateness). */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last - 10);
    last = now;
  }, 10);
  try {
    return { value: await work(), stallMs };
  } finally {
    clearInterval(timer);
  }
}

describe('the practice market in its own thread', () => {
  it('starts a fresh on-disk market without stalling the caller, serves the task API, and stops when closed', async () => {
    const dir = tempDir('tessera-lm-thread-');
    const { value: market, stallMs } = await longestStall(() =>
      startLocalMarketThread({ dataDir: dir, customer: { intervalMs: 200 } }),
    );
    try {
      // The embedded store's first start runs seconds of WebAssembly in long uninterrupted pieces.
      expect(stallMs).toBeLessThan(250); // in-process: ~400 ms on an idle 2-core machine, tens of seconds under load
      const health = await fetch(`${market.url}/health`);
      expect(health.status).toBe(200);
    } finally {
      await market.close();
    }
    await expect(fetch(`${market.url}/health`)).rejects.toThrow();
  }, 180_000);

  it('a market that cannot start rejects with PRACTICE_UNAVAILABLE and one line', async () => {
    const file = join(tempDir('tessera-lm-bad-'), 'not-a-dir');
    writeFileSync(file, 'x');
    const err = await startLocalMarketThread({ dataDir: file }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'PRACTICE_UNAVAILABLE',
      message: expect.stringMatching(/^the practice market could not start: [^\n]+$/),
    });
  }, 120_000);
});
