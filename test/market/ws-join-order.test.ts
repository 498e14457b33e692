import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postTask, startMarket, type Market } from '../support/market.js';
import { signal } from '../support/provider.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';

const SEED = 0x4a;
console.log(`join order test seed ${SEED}`);
const TASKS = 3;
const root = mkdtempSync(join(tmpdir(), 'tessera-join-order-'));
let m: Market;

beforeAll(async () => {
  m = await startMarket(root, { checkFraction: 0 });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await m?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The frame types a session got, in order, up to and including its prices frame (the last frame of a join). */
async function joinFrames(p: RawProvider): Promise<string[]> {
  await p.nextFrame('prices');
  const types = p.frames.map((f) => f.type);
  return types.slice(0, types.indexOf('prices') + 1);
}

describe('provider socket: the join', () => {
  it('sends the welcome before the receipts it re-sends; acknowledged once, they are not sent again', async () => {
    // Session 1: the provider runs TASKS one-job tasks and acknowledges none of the receipts.
    const first = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    await first.join({ max_jobs: TASKS });
    for (let i = 0; i < TASKS; i++) {
      const r = await postTask(m, {
        challenge_type: 'inference',
        payload: { model_id: 'm', prompt: `join order ${i}`, max_tokens: 1 },
        reward: '1.0',
      });
      expect(r.status).toBe(201);
    }
    for (let i = 0; i < TASKS; i++) first.sendJson(first.honestResult(await first.nextJob(i), m.blake3, BigInt(i + 1)));
    await first.nextFrame('receipt', TASKS - 1);
    first.close();
    await first.closed();

    // Session 2: challenge, welcome, then every unacknowledged receipt, then prices.
    const acks: Promise<void>[] = [];
    const allAcked = signal();
    const receiptAck = m.validator.receiptAck.bind(m.validator);
    vi.spyOn(m.validator, 'receiptAck').mockImplementation((session, key) => {
      const p = receiptAck(session, key);
      acks.push(p);
      if (acks.length === TASKS) allAcked.resolve();
      return p;
    });
    const second = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    await second.join({ max_jobs: TASKS });
    expect(await joinFrames(second)).toEqual(['challenge', 'welcome', ...Array(TASKS).fill('receipt'), 'prices']);
    for (const f of second.frames)
      if (f.type === 'receipt') second.sendJson({ type: 'receipt_ack', idempotency_key: f.receipt.idempotency_key });
    await allAcked.promise;
    await Promise.all(acks); // each acknowledgement committed
    second.close();
    await second.closed();

    // Session 3: nothing to re-send.
    const third = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    await third.join({ max_jobs: TASKS });
    expect(await joinFrames(third)).toEqual(['challenge', 'welcome', 'prices']);
    third.close();
  });
});
