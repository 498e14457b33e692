import { afterEach, describe, expect, it } from 'vitest';
import { ed25519SignerFromSeed } from '../../src/main/market/result-signing.js';
import { SignaturePool } from '../../src/market/validator/signature-pool.js';
import { join } from 'node:path';
import { getTask, postTask, RawProvider, seedFrom, startMarket, until } from '../e2e/loop-harness.js';
import { tempDir } from '../helpers.js';
import type { ProviderSession } from '../../src/market/validator/validator-service.js';

const SEED = 0x519;
console.log(`signature pool test seed ${SEED}`);

const pools: SignaturePool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

const signer = (n: number) => ed25519SignerFromSeed(seedFrom(SEED + n));
const bytes = (s: string) => new TextEncoder().encode(s);

describe('SignaturePool (Ed25519 on worker threads)', () => {
  it('answers each request by its own key, message and signature, and sends the requests of one turn in batches', async () => {
    const pool = new SignaturePool(2);
    pools.push(pool);
    const a = signer(1);
    const b = signer(2);
    const cases: { key: string; message: Uint8Array; sig: string; want: boolean }[] = [];
    for (let i = 0; i < 100; i++) {
      const m = bytes(`message ${i}`);
      const kind = i % 5;
      if (kind === 0) cases.push({ key: a.nodeId, message: m, sig: a.sign(m), want: true });
      if (kind === 1) cases.push({ key: b.nodeId, message: m, sig: b.sign(m), want: true });
      if (kind === 2) cases.push({ key: b.nodeId, message: m, sig: a.sign(m), want: false }); // another key's signature
      if (kind === 3) cases.push({ key: a.nodeId, message: bytes(`other ${i}`), sig: a.sign(m), want: false }); // another message
      if (kind === 4) cases.push({ key: 'not-a-key', message: m, sig: a.sign(m), want: false });
    }
    const got = await Promise.all(cases.map((c) => pool.verify(c.key, c.message, c.sig)));
    expect(got).toEqual(cases.map((c) => c.want));
    expect(pool.messages).toBe(2); // 100 requests of one turn: two batches of at most 64
  });

  it('a closed pool refuses new requests', async () => {
    const pool = new SignaturePool(1);
    await pool.close();
    await expect(pool.verify(signer(1).nodeId, bytes('x'), signer(1).sign(bytes('x')))).rejects.toThrow(/shut down/);
  });

  it('the validator, closing, waits for the signatures being checked: a result received just before the close is settled, not dropped', async () => {
    const m = await startMarket(join(tempDir('tessera-sigpool-close-'), 'market'), { checkFraction: 0 });
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 10));
    try {
      await p.join();
      const id = (await postTask(m, { challenge_type: 'inference', payload: { model_id: 'm', prompt: 'closing', max_tokens: 1 }, reward: '1.0' })).json.task_id as string;
      const job = await p.nextJob();
      const frame = p.honestResult(job, m.blake3, BigInt(SEED) * 1000n);
      const session: ProviderSession = { id: 'direct', address: p.address, publicKey: p.signer.nodeId, capabilities: undefined, inFlight: new Set(), send: () => undefined, close: () => undefined };
      const ack = m.validator.submitResult(session, frame as never);
      await m.validator.close();
      const answer = await Promise.race([ack, new Promise((r) => setTimeout(() => r('no answer within 5 s'), 5000))]);
      expect(answer).toMatchObject({ accepted: true, code: null });
      expect((await m.store.transaction((tx) => tx.validator.results(job.job_id))).map((r) => r.verdict)).toEqual(['accepted']);
      await until('task completed', () => getTask(m, id), (t) => t.status === 'completed', 5000);
    } finally {
      p.close();
      await m.close();
    }
  });
});
