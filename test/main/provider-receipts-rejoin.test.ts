import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import type { ProviderSession } from '../../src/market/validator/validator-service.js';
import type { MarketFrame } from '../../src/shared/market-protocol.js';
import { postTask, startMarket, type Market } from '../support/market.js';
import { signal, startProvider, whenNode, type Provider } from '../support/provider.js';
import { tempDir } from '../support/temp-dir.js';

/** Tasks posted; each is one inference job paying the provider 250,000 micro-CPC, so one receipt each. */
const TASKS = 5;
const PAY = 250_000n;

const undelivered = (m: Market, address: string) =>
  m.store.transaction(async (tx) => (await tx.validator.receipts(address, true)).length);

const earned = (p: Provider): bigint => new ProviderJobsRepo(p.ledger.db).earningsByDay(0)[0]?.paid ?? 0n;

/**
 * Records every frame the market sends to each session, join by join, by wrapping the validator's
 * join (the frames of one session land in one list, in the order they were sent).
 */
function recordJoins(m: Market): MarketFrame[][] {
  const joins: MarketFrame[][] = [];
  const join = m.validator.join.bind(m.validator);
  vi.spyOn(m.validator, 'join').mockImplementation((session: ProviderSession, ...rest) => {
    const frames: MarketFrame[] = [];
    joins.push(frames);
    const send = session.send.bind(session);
    session.send = (f) => {
      frames.push(f);
      send(f);
    };
    return join(session, ...rest);
  });
  return joins;
}

describe('receipts the market re-sends at a join', () => {
  it('are all acknowledged at the next join and not sent again at the one after; the welcome comes first', async () => {
    const dir = tempDir('tessera-receipts-rejoin-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 0 });
    const data = join(dir, 'p');
    const joins = recordJoins(m);
    // Session 1: the node fails to record every receipt (a crash inside the receipt's transaction),
    // so none is acknowledged and all stay undelivered at the market.
    let refused = 0;
    const allRefused = signal();
    const first = await startProvider(m.base, data, {
      faults: (point) => {
        if (point !== 'receipt.settled') return;
        if (++refused === TASKS) allRefused.resolve();
        throw new Error('injected failure while recording a receipt');
      },
    });
    let address = first.address;
    try {
      await whenNode(first, 'connected', () => first.service.status().state === 'connected');
      for (let i = 0; i < TASKS; i++) {
        const r = await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: `receipt ${i}`, max_tokens: 1 },
          reward: '1.0',
        });
        expect(r.status).toBe(201);
      }
      await allRefused.promise;
      expect(earned(first)).toBe(0n);
    } finally {
      await first.close();
    }
    expect(await undelivered(m, address)).toBe(TASKS);

    // Session 2: the market re-sends them at the join; the node records and acknowledges each one.
    const acks: Promise<void>[] = [];
    const allAcked = signal();
    const receiptAck = m.validator.receiptAck.bind(m.validator);
    vi.spyOn(m.validator, 'receiptAck').mockImplementation((session, key) => {
      const p = receiptAck(session, key);
      acks.push(p);
      if (acks.length === TASKS) allAcked.resolve();
      return p;
    });
    const second = await startProvider(m.base, data);
    address = second.address;
    try {
      await whenNode(second, 'every re-sent receipt recorded', () => earned(second) === PAY * BigInt(TASKS));
      await allAcked.promise;
      await Promise.all(acks); // each acknowledgement committed
      expect(await undelivered(m, address)).toBe(0);
    } finally {
      await second.close();
    }
    const rejoin = joins[1] ?? [];
    const types = rejoin.map((f) => f.type);
    // The welcome is the first frame of the session; the re-sent receipts follow it.
    expect(types[0]).toBe('welcome');
    expect(types.filter((t) => t === 'receipt')).toHaveLength(TASKS);

    // Session 3: nothing is left to re-send. The prices frame closes the join's frames.
    const third = await startProvider(m.base, data);
    try {
      await whenNode(third, 'connected', () => third.service.status().state === 'connected');
      const frames = await new Promise<MarketFrame[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no prices frame at the third join')), 30_000);
        const off = third.service.onDidChange(() => {
          const f = joins[2];
          if (f?.some((x) => x.type === 'prices')) {
            off();
            clearTimeout(timer);
            resolve(f);
          }
        });
        const f = joins[2];
        if (f?.some((x) => x.type === 'prices')) {
          off();
          clearTimeout(timer);
          resolve(f);
        }
      });
      expect(frames[0]?.type).toBe('welcome');
      expect(frames.filter((f) => f.type === 'receipt')).toHaveLength(0);
      expect(earned(third)).toBe(PAY * BigInt(TASKS));
    } finally {
      await third.close();
      await m.close();
    }
  });
});
