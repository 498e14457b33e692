import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PriceBoard } from '../../src/core/pricing/price-board.js';
import { getTask, postTask, startMarket } from '../support/market.js';
import { startProvider, whenNode } from '../support/provider.js';
import { tempDir } from '../support/temp-dir.js';

const synthetic = (reward: string) => ({
  challenge_type: 'synthetic',
  payload: { seed: '00c0ffee', matrix_size: 8, iterations: 1, lane: 'consumer' },
  reward,
});

describe('the automatic ask never rises by itself', () => {
  it('a node that saw offers and reconnected still takes a job cheaper than every offer it saw', async () => {
    const dir = tempDir('tessera-ask-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 0 });
    const board = new PriceBoard(16);
    const p = await startProvider(m.base, join(dir, 'p'), {
      ask: undefined, // no --ask: the automatic ask
      priceBoard: { record: (lane, price) => board.record(lane, price) },
    });
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      // Offers of 0.25 CPC (a quarter of 1.0) seen and taken.
      for (let i = 0; i < 2; i++) expect((await postTask(m, synthetic('1.0'))).status).toBe(201);
      await whenNode(p, 'two jobs done', () => p.service.status().jobsDone >= 2);
      expect(board.suggestedBid('consumer', 0)).toBe(250_000n);

      // A network fault: the node reconnects and announces its ask again.
      p.service.dropConnection();
      await whenNode(p, 'disconnected', () => p.service.status().state !== 'connected');
      await whenNode(p, 'reconnected', () => p.service.status().state === 'connected');
      expect(p.service.currentAsk()).toBe(0n);

      // A task without a deadline offering 0.1 CPC, below every offer seen: still taken.
      const cheap = (await postTask(m, synthetic('0.4'))).json.task_id as string;
      await whenNode(p, 'the cheaper job done', () => p.service.status().jobsDone >= 3, 15_000);
      expect((await getTask(m, cheap)).status).toBe('completed');
    } finally {
      await p.close();
      await m.close();
    }
  });

  it("the user's ask holds across reconnects, and setAsk lowers it at once", async () => {
    const dir = tempDir('tessera-ask-user-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 0 });
    const p = await startProvider(m.base, join(dir, 'p'), { ask: 300_000n });
    try {
      await whenNode(p, 'connected', () => p.service.status().state === 'connected');
      const cheap = (await postTask(m, synthetic('1.0'))).json.task_id as string; // offers 0.25 < 0.3
      const dropped = Date.now();
      p.service.dropConnection();
      await whenNode(p, 'prices after the reconnect', () => (p.service.status().lastPrices?.at ?? 0) >= dropped);
      expect(p.service.currentAsk()).toBe(300_000n);
      expect(p.service.status().lastPrices?.lanes.find((l) => l.lane === 'consumer')).toMatchObject({ queued: 1 });
      expect(p.service.status().jobsDone).toBe(0);
      p.service.setAsk(undefined);
      await whenNode(p, 'the job taken once the ask is lowered', () => p.service.status().jobsDone >= 1, 15_000);
      expect((await getTask(m, cheap)).status).toBe('completed');
    } finally {
      await p.close();
      await m.close();
    }
  });
});
