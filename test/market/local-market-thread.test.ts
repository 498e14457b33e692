import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalMarketThread } from '../../src/market/local-market-thread.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * How long this thread's event loop was busy (running JavaScript or native work, not waiting for
 * I/O) while `work` ran: `performance.eventLoopUtilization`'s active time. Time the thread spends
 * descheduled while waiting (a loaded machine) is not counted, so it measures what `work` made this
 * thread do, where a timer's lateness would measure the machine's load too.
 */
async function busyDuring<T>(work: () => Promise<T>): Promise<{ value: T; busyMs: number }> {
  const before = performance.eventLoopUtilization();
  const value = await work();
  return { value, busyMs: performance.eventLoopUtilization(before).active };
}

describe('the practice market in its own thread', () => {
  it('starts a fresh on-disk market without stalling the caller, serves the task API, and stops when closed', async () => {
    const dir = tempDir('tessera-lm-thread-');
    const { value: market, busyMs } = await busyDuring(() =>
      startLocalMarketThread({ dataDir: dir, customer: { intervalMs: 200 } }),
    );
    try {
      // The embedded store's first start runs seconds of WebAssembly (2.8–3.7 s of CPU for a fresh
      // database); in this thread it would keep the caller's loop busy that long.
      console.log(`caller's event loop busy ${Math.round(busyMs)} ms while the market thread started`);
      expect(busyMs).toBeLessThan(1000);
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
