import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import {
  computeResultSigningBytes,
  computeResultToJson,
  type UnsignedComputeResult,
} from '../../src/core/market/compute-result.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { tempDir } from '../support/temp-dir.js';
import { balance, getTask, postTask, startMarket, type Market } from '../support/market.js';
import { foreignSign, RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';

const SEED = 0x5eed;
console.log(`cheater test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

function honest(m: Market, p: RawProvider, job: JobFrame, o: Partial<UnsignedComputeResult> = {}) {
  return p.signedResult(job, m.blake3, nonce++, o);
}

const payload = (tag: string, lane: 'consumer' | 'industrial') => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt: tag, max_tokens: 1, lane },
  reward: '1.0',
});

describe('cheaters are caught and paid nothing', () => {
  it('wrong hash, copied hash, replay, stale result, someone else’s job and a foreign signature: each refused with its code, unpaid', async () => {
    const dir = tempDir('tessera-cheat-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1, refuseAfter: 3 }, { digestThreads: 1 });
    const cheater = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    const other = new RawProvider(m.base, m.blake3, seedFrom(SEED + 1));
    try {
      await cheater.join({ lanes: ['industrial'], max_jobs: 2 });
      await other.join({ lanes: ['consumer'], max_jobs: 1 });

      // Two identical industrial tasks: same bytes, two assignments, two keys.
      const a = (await postTask(m, payload('same', 'industrial'))).json.task_id as string;
      const b = (await postTask(m, payload('same', 'industrial'))).json.task_id as string;
      const jobA = await cheater.nextJob(0);
      const jobB = await cheater.nextJob(1);
      expect(jobA.slice?.data).toBe(jobB.slice?.data);
      expect(jobA.assignment_key).not.toBe(jobB.assignment_key);
      const goodA = honest(m, cheater, jobA);
      cheater.sendResult(computeResultToJson(goodA));
      expect(await cheater.ackFor(jobA.job_id)).toMatchObject({ accepted: true, code: null });

      // Copied: A's digests (right plain hash, proof under A's key) submitted for B.
      const copied = honest(m, cheater, jobB, { result_hash: goodA.result_hash, proof: goodA.proof });
      cheater.sendResult(computeResultToJson(copied));
      expect(await cheater.ackFor(jobB.job_id)).toMatchObject({ accepted: false, code: 'WRONG_RESULT' });

      // Replayed: A's accepted frame again.
      cheater.sendResult(computeResultToJson(goodA));
      expect(await cheater.ackFor(jobA.job_id, 1)).toMatchObject({ accepted: false, code: 'REPLAYED' });

      // Wrong hash.
      const c = (await postTask(m, payload('wrong', 'industrial'))).json.task_id as string;
      const jobC = await cheater.nextJob(2);
      const wrong = honest(m, cheater, jobC, { result_hash: toHex(m.blake3.hash(Buffer.from('nonsense'))) });
      cheater.sendResult(computeResultToJson(wrong));
      expect(await cheater.ackFor(jobC.job_id)).toMatchObject({ accepted: false, code: 'WRONG_RESULT' });

      // Stale, then a fresh one for the same job.
      const d = (await postTask(m, payload('stale', 'industrial'))).json.task_id as string;
      const jobD = await cheater.nextJob(3);
      cheater.sendResult(computeResultToJson(honest(m, cheater, jobD, { created_at: Date.now() - 61_000 })));
      expect(await cheater.ackFor(jobD.job_id)).toMatchObject({ accepted: false, code: 'STALE' });

      // Signed by another key (worker_address is the cheater's, the signature is not).
      const forged = { ...computeResultToJson(honest(m, cheater, jobD)), signature: '' };
      forged.signature = foreignSign(computeResultSigningBytes({ ...forged, nonce: BigInt(forged.nonce) }));
      cheater.sendResult(forged);
      expect(await cheater.ackFor(jobD.job_id, 1)).toMatchObject({ accepted: false, code: 'BAD_SIGNATURE' });

      // A job leased to someone else.
      const e = (await postTask(m, payload('other', 'consumer'))).json.task_id as string;
      const jobE = await other.nextJob(0);
      cheater.sendResult(computeResultToJson(honest(m, cheater, jobE)));
      expect(await cheater.ackFor(jobE.job_id)).toMatchObject({ accepted: false, code: 'NOT_LEASED' });

      // The honest answers complete the tasks.
      cheater.sendResult(computeResultToJson(honest(m, cheater, jobD)));
      expect(await cheater.ackFor(jobD.job_id, 2)).toMatchObject({ accepted: true });
      other.sendResult(computeResultToJson(honest(m, other, jobE)));
      expect(await other.ackFor(jobE.job_id)).toMatchObject({ accepted: true });
      for (const id of [a, b, c, d, e])
        await until(
          `task ${id}`,
          () => getTask(m, id),
          (t) => t.status === 'completed',
        );

      // Paid: A and D (0.25 CPC each) — never B (copied) or C (wrong). Their worker share went to the validator.
      expect(await balance(m, ACCOUNTS.worker(cheater.address))).toBe(500_000n);
      expect(await balance(m, ACCOUNTS.worker(other.address))).toBe(250_000n);
      expect(await balance(m, ACCOUNTS.validator)).toBe(5n * 100_000n + 2n * 250_000n);
      const receipts = await m.store.transaction((tx) => tx.validator.receipts(cheater.address, false));
      expect(receipts.map((r) => (r.receipt as { job_id: string }).job_id).sort()).toEqual(
        [jobA.job_id, jobD.job_id].sort(),
      );
      // The copied/wrong tasks settled on the validator's verified digests.
      const bHash = (await getTask(m, b)).result as { result_hash: string };
      const aHash = (await getTask(m, a)).result as { result_hash: string };
      expect(bHash.result_hash).toBe(aHash.result_hash);

      // Bond slashed twice with reason WRONG_RESULT; reputation dropped.
      const p = await m.store.transaction((tx) => tx.validator.provider(cheater.address));
      const penalties = await m.store.transaction((tx) => tx.validator.penalties(cheater.address));
      expect(penalties.map((x) => x.reason)).toEqual(['WRONG_RESULT', 'WRONG_RESULT']);
      expect(p).toMatchObject({
        bond: 0n, // no bond funded (the market in this test holds none), so nothing to slash
        reputation: 100 - 2 * 25,
        wrongResults: 2,
        refused: false,
      });

      // A third wrong result: refused, disconnected with 4003, and refused again at the next join.
      await postTask(m, payload('third', 'industrial'));
      const jobF = await cheater.nextJob(4);
      cheater.sendResult(
        computeResultToJson(honest(m, cheater, jobF, { proof: toHex(m.blake3.hash(Buffer.from('x'))) })),
      );
      expect(await cheater.ackFor(jobF.job_id)).toMatchObject({ code: 'WRONG_RESULT' });
      expect(await cheater.closed()).toBe(4003);
      const again = new RawProvider(m.base, m.blake3, seedFrom(SEED));
      await again.open();
      const ch = again.frames.find((f) => f.type === 'challenge') as { market_id: string; nonce: string };
      const { authSigningBytes } = await import('../../src/shared/market-protocol.js');
      again.sendJson({
        type: 'auth',
        version: 1,
        public_key: again.signer.nodeId,
        signature: again.signer.sign(authSigningBytes(ch.market_id, ch.nonce)),
      });
      expect(await again.closed()).toBe(4003);
      expect(again.frames.some((f) => f.type === 'error' && f.code === 'PROVIDER_REFUSED')).toBe(true);
    } finally {
      cheater.close();
      other.close();
      await m.close();
    }
  });
});
