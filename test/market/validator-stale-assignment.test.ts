import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/core/hex.js';
import { createSliceDigester } from '../../src/core/market/assignment-proof.js';
import { computeResultToJson, type UnsignedComputeResult } from '../../src/core/market/compute-result.js';
import { signComputeResult } from '../../src/main/market/result-signing.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { getTask, postTask, RawProvider, seedFrom, startMarket, until, type Market } from '../e2e/loop-harness.js';
import { tempDir } from '../helpers.js';

const SEED = 0x57a1e;
console.log(`stale-assignment test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** The honest result for `job` (made under that assignment's key), as a result frame. */
function resultFrame(m: Market, p: RawProvider, job: JobFrame) {
  const d = createSliceDigester(fromHex(job.assignment_key), m.blake3);
  d.update(Buffer.from(job.slice?.data ?? '', 'base64'));
  const { resultHash, proof } = d.digest();
  const unsigned: UnsignedComputeResult = { market_id: p.marketId, task_id: job.task_id, job_id: job.job_id, worker_address: p.address, result_hash: resultHash, proof, nonce: nonce++, created_at: Date.now() };
  return { type: "result", result: computeResultToJson(signComputeResult(unsigned, { signer: p.signer, blake3: m.blake3 })), epoch: job.epoch };
}

describe('a result made for an earlier assignment of the same job to the same provider', () => {
  it('is refused STALE_ASSIGNMENT without a slash, and the current assignment’s result is paid', async () => {
    // Leases lapse after 0.8 s of silence (the raw provider sends no heartbeats), and every job is checked.
    const quorum = { m: 1, n: 1, t1Secs: 0.4, t2Secs: 0.8, staleSecs: 2, maxSkewSecs: 1, respawnRetrySecs: 0.3 };
    const m = await startMarket(join(tempDir('tessera-stale-assign-'), 'market'), { quorum, checkFraction: 1 });
    open.push(m);
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED));
    open.push(p);
    await p.join({ max_jobs: 1 });
    const id = (await postTask(m, { challenge_type: 'inference', payload: { model_id: 'm', prompt: 'one slice', max_tokens: 1 }, reward: '1.0' })).json.task_id as string;
    const first = await p.nextJob(0);
    // The lease lapses and the job comes back to the same provider at the next epoch (same key: keys are per job and provider).
    const second = await p.nextJob(1);
    expect([second.job_id, second.epoch]).toEqual([first.job_id, first.epoch + 1]);
    const bondBefore = (await m.store.transaction((tx) => tx.validator.provider(p.address)))?.bond;

    p.sendJson(resultFrame(m, p, first));
    const stale = await p.ackFor(first.job_id, 0);
    expect([stale.accepted, stale.code]).toEqual([false, 'STALE_ASSIGNMENT']);
    const after = await m.store.transaction((tx) => tx.validator.provider(p.address));
    expect(after?.bond).toBe(bondBefore);
    expect(after?.wrongResults).toBe(0);

    p.sendJson(resultFrame(m, p, second));
    const ok = await p.ackFor(first.job_id, 1);
    expect([ok.accepted, ok.code]).toEqual([true, null]);
    await until('task completed', () => getTask(m, id), (t) => t.status === 'completed', 10_000);
    const results = await m.store.transaction((tx) => tx.validator.results(first.job_id));
    expect(results.map((r) => r.verdict)).toEqual(['accepted']);
    expect(await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(p.address)))).toBe(250_000n);
  });
});
