import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import type { UnsignedComputeResult } from '../../src/core/market/compute-result.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { balance, getTask, postTask, startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';
import { escrowTotal } from '../support/books.js';
import { tempDir } from '../support/temp-dir.js';

const SEED = 0xb07;
console.log(`both / dispute-resume test seed ${SEED}`);
let nonce = BigInt(SEED) * 1000n;

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function market(
  dir: string,
  config: Partial<ValidatorConfig>,
  o: Parameters<typeof startMarket>[2] = {},
): Promise<Market> {
  const m = await startMarket(dir, config, o);
  open.push(m);
  return m;
}

async function provider(m: Market, n: number, maxJobs: number): Promise<RawProvider> {
  const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + n));
  open.push(p);
  await p.join({ max_jobs: maxJobs });
  return p;
}

/** The result an honest provider returns for `job` (optionally with a field overridden). */
const result = (m: Market, p: RawProvider, job: JobFrame, o: Partial<UnsignedComputeResult> = {}) =>
  p.resultJson(job, m.blake3, nonce++, o);
const madeUp = (m: Market) => toHex(m.blake3.hash(Buffer.from('made up')));

/** Posts a one-slice task (reward 1 CPC: workers' pool 250000 micro-CPC); returns its two runs, to `first` and then to a second provider. */
async function pairedTask(
  m: Market,
  tag: string,
  first: RawProvider,
  secondN: number,
): Promise<{ taskId: string; a: JobFrame; b: JobFrame; second: RawProvider }> {
  const r = await postTask(m, {
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt: tag, max_tokens: 1 },
    reward: '1.0',
  });
  expect(r.status).toBe(201);
  const a = await first.nextJob(0);
  await m.validator.pumpNow(); // a whole dispatch pass with the twin queued and room at `first`
  expect(first.jobs()).toHaveLength(1); // the other run may not go to the same provider
  const second = await provider(m, secondN, 1);
  const b = await second.nextJob(0);
  expect([b.task_id, b.job_id === a.job_id]).toEqual([a.task_id, false]);
  return { taskId: r.json.task_id as string, a, b, second };
}

describe('verify_mode both: a checked job is run by two providers AND re-executed', () => {
  it('an honest pair: both runs re-executed, both accepted and paid exactly, one receipt each', async () => {
    const m = await market(tempDir('tessera-both-'), { checkFraction: 1, verifyMode: 'both' });
    const first = await provider(m, 1, 2);
    const { taskId, a, b, second } = await pairedTask(m, 'both-agree', first, 2);
    const validatorBefore = await balance(m, ACCOUNTS.validator);
    first.sendResult(result(m, first, a));
    second.sendResult(result(m, second, b));
    expect(await first.ackFor(a.job_id)).toMatchObject({ accepted: true, code: null });
    expect(await second.ackFor(b.job_id)).toMatchObject({ accepted: true, code: null });
    // The commit that pays the task sends the receipts: once one is here, the task is complete.
    await first.nextFrame('receipt');
    expect((await getTask(m, taskId)).status).toBe('completed');
    expect(await balance(m, ACCOUNTS.worker(first.address))).toBe(125_000n);
    expect(await balance(m, ACCOUNTS.worker(second.address))).toBe(125_000n);
    expect((await balance(m, ACCOUNTS.validator)) - validatorBefore).toBe(100_000n);
    for (const [p, job] of [
      [first, a],
      [second, b],
    ] as const) {
      // Re-executed (checked) and accepted at once: never held for the pair comparison.
      expect(await m.store.transaction(async (tx) => (await tx.validator.assignment(job.job_id))?.checked)).toBe(true);
      expect((await m.store.transaction((tx) => tx.validator.results(job.job_id))).map((s) => s.verdict)).toEqual([
        'accepted',
      ]);
      const receipt = await p.nextFrame('receipt');
      expect(p.frames.filter((f) => f.type === 'receipt')).toHaveLength(1);
      expect(receipt).toMatchObject({ task_id: taskId, receipt: { job_id: job.job_id, provider: p.address } });
      expect(await m.store.transaction((tx) => tx.validator.penalties(p.address))).toEqual([]);
    }
  }, 120_000);

  it('a cheater in the pair is caught by re-execution: WRONG_RESULT, unpaid, slashed; the honest run is paid', async () => {
    const m = await market(tempDir('tessera-both-'), { checkFraction: 1, verifyMode: 'both' });
    const honest = await provider(m, 3, 2);
    const { taskId, a, b, second: cheater } = await pairedTask(m, 'both-cheat', honest, 4);
    const validatorBefore = await balance(m, ACCOUNTS.validator);
    honest.sendResult(result(m, honest, a));
    // A hash copied from the other run is as wrong as a made-up one: the proof is bound to the assignment key.
    cheater.sendResult(result(m, cheater, b, { result_hash: madeUp(m) }));
    expect(await honest.ackFor(a.job_id)).toMatchObject({ accepted: true });
    expect(await cheater.ackFor(b.job_id)).toMatchObject({ accepted: false, code: 'WRONG_RESULT' });
    await honest.nextFrame('receipt');
    expect((await getTask(m, taskId)).status).toBe('completed');
    expect(await m.store.transaction((tx) => tx.validator.penalties(cheater.address))).toMatchObject([
      // Its bond was never funded (these markets hold none back), so the slash takes nothing.
      { jobId: b.job_id, reason: 'WRONG_RESULT', slashed: 0n },
    ]);
    expect(await balance(m, ACCOUNTS.worker(cheater.address))).toBe(0n);
    expect(await balance(m, ACCOUNTS.worker(honest.address))).toBe(125_000n);
    expect((await balance(m, ACCOUNTS.validator)) - validatorBefore).toBe(100_000n + 125_000n);
    const [wrong] = await m.store.transaction((tx) => tx.validator.results(b.job_id));
    const [right] = await m.store.transaction((tx) => tx.validator.results(a.job_id));
    expect(right).toMatchObject({ verdict: 'accepted' });
    expect(
      await m.store.transaction(async (tx) => [
        (await tx.validator.assignment(a.job_id))?.checked,
        (await tx.validator.assignment(b.job_id))?.checked,
      ]),
    ).toEqual([true, true]);
    expect(wrong).toMatchObject({ verdict: 'wrong', settledHash: right?.resultHash });
    // Receipts are issued in the commit that pays the task: the store holds the honest one only.
    expect(await m.store.transaction((tx) => tx.validator.receipts(cheater.address, false))).toHaveLength(0);
    expect(await m.store.transaction((tx) => tx.validator.receipts(honest.address, false))).toHaveLength(1);
    await honest.nextFrame('receipt');
    expect(cheater.frames.filter((f) => f.type === 'receipt')).toHaveLength(0);
  }, 120_000);
});

describe('verify_mode second_provider: a dispute survives a market restart', () => {
  it('the market stops after two runs disagree, before re-execution decides; restarted on the same store it settles the dispute exactly once', async () => {
    const dir = tempDir('tessera-dispute-');
    // A long settle window, so the second run is still gathering when the market is stopped.
    const config: Partial<ValidatorConfig> = { checkFraction: 1, verifyMode: 'second_provider', settleWindowMs: 1500 };
    const m1 = await startMarket(dir, config, { onDisk: true });
    let m1Open = true;
    open.push({ close: () => (m1Open ? m1.close() : undefined) });
    const honest = await provider(m1, 5, 2);
    const { taskId, a, b, second: cheater } = await pairedTask(m1, 'dispute', honest, 6);
    honest.sendResult(result(m1, honest, a));
    expect(await honest.ackFor(a.job_id)).toMatchObject({ accepted: true });
    const received = new Promise<void>((resolve) => {
      const submit = m1.validator.submitResult.bind(m1.validator);
      vi.spyOn(m1.validator, 'submitResult').mockImplementationOnce((...args) => {
        resolve();
        return submit(...args);
      });
    });
    cheater.sendResult(result(m1, cheater, b, { result_hash: madeUp(m1) }));
    await received; // received and waiting for its group commit (the settle window is 1.5 s)
    // Stopping settles what was received (the run is committed as held, the disagreement found) but starts no re-execution.
    m1Open = false;
    await m1.close();

    const between = await MarketStore.open(await openPgliteDriver(join(dir, 'store')));
    const held = await between.transaction(async (tx) =>
      [...(await tx.validator.results(a.job_id)), ...(await tx.validator.results(b.job_id))].map((r) => r.verdict),
    );
    const statusBetween = await between.transaction(async (tx) => (await tx.tasks.get(taskId))?.status);
    const penaltiesBetween = await between.transaction((tx) => tx.validator.penalties(cheater.address));
    await between.close();
    expect(held).toEqual(['held', 'held']);
    expect(statusBetween).not.toBe('completed');
    expect(penaltiesBetween).toEqual([]);

    const m2 = await market(
      dir,
      { ...config, settleWindowMs: 5 },
      { onDisk: true, customer: { key: m1.customerKey, id: m1.customerId } },
    );
    const validatorBefore = await balance(m2, ACCOUNTS.validator);
    await until(
      'the task completed after the restart',
      () => getTask(m2, taskId),
      (t) => t.status === 'completed',
      15_000,
    );
    // Several more sweeps (each resumes open disputes): nothing is decided twice.
    for (let i = 0; i < 3; i++) await m2.validator.sweepNow();
    await m2.validator.whenIdle();
    expect(await m2.store.transaction((tx) => tx.validator.penalties(cheater.address))).toMatchObject([
      // Its bond was never funded (these markets hold none back), so the slash takes nothing.
      { jobId: b.job_id, reason: 'WRONG_RESULT', slashed: 0n },
    ]);
    const verdicts = await m2.store.transaction(async (tx) => ({
      a: await tx.validator.results(a.job_id),
      b: await tx.validator.results(b.job_id),
    }));
    expect(verdicts.a.map((r) => r.verdict)).toEqual(['accepted']);
    expect(verdicts.b.map((r) => [r.verdict, r.settledHash])).toEqual([['wrong', verdicts.a[0]?.resultHash]]);
    expect(await balance(m2, ACCOUNTS.worker(honest.address))).toBe(125_000n);
    expect(await balance(m2, ACCOUNTS.worker(cheater.address))).toBe(0n);
    expect((await balance(m2, ACCOUNTS.validator)) - validatorBefore).toBe(100_000n + 125_000n);
    expect(await m2.store.transaction((tx) => tx.validator.receipts(honest.address, false))).toHaveLength(1);
    expect(await m2.store.transaction((tx) => tx.validator.receipts(cheater.address, false))).toHaveLength(0);
    expect(await escrowTotal(m2)).toBe(0n);
  }, 120_000);
});
