import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import type { UnsignedComputeResult } from '../../src/core/market/compute-result.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { balance, getTask, postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';

const SEED = 0x2d9;
console.log(`second provider test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;
const root = mkdtempSync(join(tmpdir(), 'tessera-second-'));
let m: Market;
const providers: RawProvider[] = [];

beforeAll(async () => {
  // Every job is checked, by a second provider only: the validator re-executes only to settle a disagreement.
  m = await startMarket(root, { checkFraction: 1, verifyMode: 'second_provider' });
});
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  await until(
    'the providers left',
    () => m.validator.connectedProviders,
    (n) => n === 0,
    5000,
  );
});
afterAll(async () => {
  await m?.close();
  rmSync(root, { recursive: true, force: true });
});

async function provider(n: number, maxJobs: number): Promise<RawProvider> {
  const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + n));
  providers.push(p);
  await p.join({ max_jobs: maxJobs });
  return p;
}

/** The result an honest provider returns for `job` (optionally with a field overridden). */
function result(p: RawProvider, job: JobFrame, o: Partial<UnsignedComputeResult> = {}) {
  return p.resultJson(job, m.blake3, nonce++, o);
}

/** Posts a one-slice task (reward 1 CPC: workers' pool 250000 micro-CPC) and returns the two runs, given to `first` then `second`. */
async function pairedTask(
  tag: string,
  first: RawProvider,
  second: () => Promise<RawProvider>,
): Promise<{ taskId: string; a: JobFrame; b: JobFrame; second: RawProvider }> {
  const r = await postTask(m, {
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt: tag, max_tokens: 1 },
    reward: '1.0',
  });
  expect(r.status).toBe(201);
  const a = await first.nextJob(0);
  await m.validator.pumpNow(); // a whole dispatch pass with the twin queued and room at `first`
  // `first` has room for two jobs, but the other run of this slice may not go to the same provider.
  expect(first.jobs()).toHaveLength(1);
  const p2 = await second();
  const b = await p2.nextJob(0);
  expect(b.task_id).toBe(a.task_id);
  expect(b.job_id).not.toBe(a.job_id);
  // Both runs of a pair are keyed alike (the pair key), so honest runs agree on the proof too.
  expect(b.assignment_key).toBe(a.assignment_key);
  expect(Buffer.from(b.slice?.data ?? '', 'base64')).toEqual(Buffer.from(a.slice?.data ?? '', 'base64'));
  return { taskId: r.json.task_id as string, a, b, second: p2 };
}

describe('verify_mode second_provider: a checked job is run by two distinct providers', () => {
  it('two honest providers agree: both runs accepted without re-execution and both paid exactly, with a receipt each', async () => {
    const first = await provider(1, 2);
    const { taskId, a, b, second } = await pairedTask('agree', first, () => provider(2, 1));
    const validatorBefore = await balance(m, ACCOUNTS.validator);
    first.sendResult(result(first, a));
    expect(await first.ackFor(a.job_id)).toMatchObject({ accepted: true });
    second.sendResult(result(second, b));
    expect(await second.ackFor(b.job_id)).toMatchObject({ accepted: true });
    // The commit that pays the task sends the receipts: once one is here, the task is complete.
    await first.nextFrame('receipt');
    expect((await getTask(m, taskId)).status).toBe('completed');
    // Workers' 25% (250000) pro rata over the two verified runs; validator 10%.
    expect(await balance(m, ACCOUNTS.worker(first.address))).toBe(125_000n);
    expect(await balance(m, ACCOUNTS.worker(second.address))).toBe(125_000n);
    expect((await balance(m, ACCOUNTS.validator)) - validatorBefore).toBe(100_000n);
    for (const [p, job] of [
      [first, a],
      [second, b],
    ] as const) {
      const receipt = await p.nextFrame('receipt');
      expect(p.frames.filter((f) => f.type === 'receipt')).toHaveLength(1);
      expect(receipt).toMatchObject({ task_id: taskId, receipt: { job_id: job.job_id, provider: p.address } });
      const stored = await m.store.transaction((tx) => tx.validator.results(job.job_id));
      expect(stored.map((s) => s.verdict)).toEqual(['accepted']);
      expect(await m.store.transaction(async (tx) => (await tx.validator.assignment(job.job_id))?.checked)).toBe(false);
    }
  });

  it('a cheating second provider is acknowledged like anyone, then caught: it earns nothing and is slashed WRONG_RESULT', async () => {
    const honest = await provider(3, 2);
    const { taskId, a, b, second: cheater } = await pairedTask('disagree', honest, () => provider(4, 1));
    const validatorBefore = await balance(m, ACCOUNTS.validator);
    honest.sendResult(result(honest, a));
    cheater.sendResult(result(cheater, b, { result_hash: toHex(m.blake3.hash(Buffer.from('made up'))) }));
    // The results are committed before anything is revealed: the cheater's ack is the same as an honest one.
    expect(await cheater.ackFor(b.job_id)).toMatchObject({ accepted: true, code: null });
    expect(await honest.ackFor(a.job_id)).toMatchObject({ accepted: true, code: null });
    // The commit that pays the task sends the receipts: once one is here, the task is complete.
    await honest.nextFrame('receipt');
    expect((await getTask(m, taskId)).status).toBe('completed');
    expect(await m.store.transaction((tx) => tx.validator.penalties(cheater.address))).toMatchObject([
      // Its bond was never funded (these markets hold none back), so the slash takes nothing.
      { jobId: b.job_id, reason: 'WRONG_RESULT', slashed: 0n },
    ]);
    expect(await balance(m, ACCOUNTS.worker(cheater.address))).toBe(0n);
    expect(await balance(m, ACCOUNTS.worker(honest.address))).toBe(125_000n);
    // The cheater's run is settled on the verified digest and its share goes to the validator.
    expect((await balance(m, ACCOUNTS.validator)) - validatorBefore).toBe(100_000n + 125_000n);
    const [wrong] = await m.store.transaction((tx) => tx.validator.results(b.job_id));
    const [right] = await m.store.transaction((tx) => tx.validator.results(a.job_id));
    expect(wrong).toMatchObject({ verdict: 'wrong', settledHash: right?.resultHash });
    expect(right?.verdict).toBe('accepted');
    // Receipts are issued in the commit that pays the task: the store holds the honest one only.
    expect(await m.store.transaction((tx) => tx.validator.receipts(cheater.address, false))).toHaveLength(0);
    expect(await m.store.transaction((tx) => tx.validator.receipts(honest.address, false))).toHaveLength(1);
    await honest.nextFrame('receipt');
    expect(cheater.frames.filter((f) => f.type === 'receipt')).toHaveLength(0);
  });

  it('a second provider that copies the right plain hash but cannot make the proof disagrees, is re-executed and caught', async () => {
    const honest = await provider(5, 2);
    const { taskId, a, b, second: copier } = await pairedTask('copied plain hash', honest, () => provider(6, 1));
    const good = result(honest, a);
    honest.sendResult(good);
    // The plain hash is the customer's result and may be public; the proof needs the bytes and the pair key.
    copier.sendResult(
      result(copier, b, { result_hash: good.result_hash, proof: toHex(m.blake3.hash(Buffer.from('no work done'))) }),
    );
    expect(await copier.ackFor(b.job_id)).toMatchObject({ accepted: true, code: null });
    // The commit that pays the task sends the receipts: once one is here, the task is complete.
    await honest.nextFrame('receipt');
    expect((await getTask(m, taskId)).status).toBe('completed');
    expect(await m.store.transaction((tx) => tx.validator.penalties(copier.address))).toMatchObject([
      { jobId: b.job_id, reason: 'WRONG_RESULT' },
    ]);
    expect(await balance(m, ACCOUNTS.worker(copier.address))).toBe(0n);
    expect(await balance(m, ACCOUNTS.worker(honest.address))).toBe(125_000n);
    expect((await m.store.transaction((tx) => tx.validator.results(a.job_id))).map((r) => r.verdict)).toEqual([
      'accepted',
    ]);
  });
});
