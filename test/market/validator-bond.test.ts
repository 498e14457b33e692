import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { DEFAULT_VALIDATOR_CONFIG } from '../../src/market/validator/validator-config.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { expectBooksEqual } from '../support/books.js';
import { balance, postTask, startMarket, type Market } from '../support/market.js';
import { testMarkets } from '../support/market-harness.js';
import type { RawProvider } from '../support/raw-provider.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Cheaters through the real market with its defaults (checkFraction 0.1, probation 10 jobs, bond
 * 10 CPC held back from first earnings, refused after 3 wrong results): docs/verification.md.
 */
const SEED = 0xb0_4d;
console.log(`bond test seed ${SEED}`);
let nonce = BigInt(SEED) * 1_000_000n;
const BOND = DEFAULT_VALIDATOR_CONFIG.bondTarget;

const markets = testMarkets();
/** A market with the market's bond (its other settings as startMarket sets them), closed after the test. */
const bondMarket = async () =>
  markets.own(await startMarket(join(tempDir('tessera-bond-'), 'market'), { bondTarget: BOND }));

/** A signed result for `job`: the honest digests, or garbage (a digest of nothing the job holds). */
function resultFor(market: Market, p: RawProvider, job: JobFrame, garbage: boolean) {
  const junk = toHex(market.blake3.hash(Buffer.from(`garbage ${job.job_id}`)));
  return p.resultJson(job, market.blake3, nonce++, garbage ? { result_hash: junk, proof: junk } : {});
}

const task = (tag: string, reward: string) => ({
  challenge_type: 'inference',
  payload: { model_id: 'm', prompt: tag, max_tokens: 1, lane: 'consumer' },
  reward,
});

/** Runs one job at a time for `p`, each answered with garbage, until the market refuses it; returns the jobs and their answers. */
async function cheatUntilRefused(market: Market, p: RawProvider, reward: string, limit = 400) {
  const codes: (string | null)[] = [];
  for (let i = 0; i < limit; i++) {
    // Refused already: a failed check reaches back (reach-back.ts), and the earlier unchecked
    // garbage it finds counts as wrong results too.
    if (p.closeCode !== undefined) break;
    await postTask(market, task(`${p.address}-${i}`, reward));
    const next = await Promise.race([p.nextJob(i), p.closed().then(() => undefined)]);
    if (!next) break;
    const job = next;
    p.sendResult(resultFor(market, p, job, true));
    // A job can come back to it (the redo of an earlier garbage answer the reach-back found): this
    // answer's ack is that job's next one, not its first.
    const nth = p
      .jobs()
      .slice(0, i)
      .filter((j) => j.job_id === job.job_id).length;
    // The reach-back can refuse it while this answer is on its way (its earlier garbage found): no ack then.
    const ack = await Promise.race([p.ackFor(job.job_id, nth), p.closed().then(() => undefined)]);
    if (!ack) break;
    codes.push(ack.code);
    if (codes.filter((c) => c === 'WRONG_RESULT').length === DEFAULT_VALIDATOR_CONFIG.refuseAfter) break;
  }
  expect(await p.closed()).toBe(4003);
  return codes;
}

/** What a provider holds at the market (its worker account and its bond) and what failed checks took from its bond. */
async function money(market: Market, address: string) {
  const penalties = await market.store.transaction((tx) => tx.validator.penalties(address));
  return {
    worker: await balance(market, ACCOUNTS.worker(address)),
    bond: await balance(market, ACCOUNTS.bond(address)),
    slashed: penalties.reduce((a, x) => a + x.slashed, 0n),
  };
}

describe('a bond that costs something, and probation (market defaults)', () => {
  it('a provider that cheats from its first job earns nothing net and is refused; a second key of the same cheater fares no better', async () => {
    const m = await bondMarket();
    for (const seed of [SEED, SEED + 1]) {
      const p = await markets.join(m, seed, { max_jobs: 1 });
      const welcome = p.frames.find((f) => f.type === 'welcome');
      // A fresh key: no trust (every job checked) and no bond.
      expect(welcome).toMatchObject({
        probation: {
          checked_fraction: 1,
          verified_jobs: 0,
          jobs_until_floor: 100,
          bond_funded: '0',
          bond_target: '10000000',
        },
      });
      const codes = await cheatUntilRefused(m, p, '1.0');
      const held = await money(m, p.address);
      console.log(
        `cheater key ${seed}: ${codes.length} jobs, answers ${codes.join(',')}, holds ${JSON.stringify(held, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
      );
      // Every garbage answer was caught: nothing collected, so nothing to lose either.
      expect(codes).toEqual(['WRONG_RESULT', 'WRONG_RESULT', 'WRONG_RESULT']);
      expect(held.worker + held.bond - held.slashed).toBeLessThanOrEqual(0n);
      expect(held.worker).toBe(0n);
      expect(await m.store.transaction((tx) => tx.validator.provider(p.address))).toMatchObject({ refused: true });
    }
    await expectBooksEqual(m);
  }, 120_000);

  it('a provider that cheats after a long honest history loses its funded bond, more than it collects (docs/verification.md)', async () => {
    const m = await bondMarket();
    const p = await markets.join(m, SEED + 7, { max_jobs: 1 });
    // Its history: 200 checks passed in a row, and a bond funded in full from earnings it kept.
    await m.store.transaction(async (tx) => {
      await tx.bonds.recordPassed(Array<string>(200).fill(p.address), 0);
      await tx.accounts.ensure(ACCOUNTS.worker(p.address), 'worker');
      await tx.accounts.post(
        'earned-before',
        [
          { account: ACCOUNTS.mint, amount: -BOND },
          { account: ACCOUNTS.worker(p.address), amount: BOND },
        ],
        'earnings',
        0,
      );
      expect(await tx.bonds.deposit(p.address, BOND, 'bond-deposit', 0)).toBe(true);
    });
    // Jobs paying it 0.1 CPC (a 0.4 CPC task, 25% to the worker): at the 10% floor, the expected
    // take before the first failed check is 0.9 × 0.1 / 0.1 = 0.9 CPC, against a 10 CPC bond.
    const codes = await cheatUntilRefused(m, p, '0.4');
    const held = await money(m, p.address);
    const collected = held.worker; // every credit it had was in its bond, so its worker account is what cheating paid
    console.log(
      `long-history cheater: ${codes.join(',')} ${codes.length} jobs (${codes.filter((c) => c === null).length} unchecked, paid), collected ${collected}, bond lost ${held.slashed}`,
    );
    expect(held.slashed).toBe(BOND);
    expect(held.bond).toBe(0n);
    expect(collected - held.slashed).toBeLessThanOrEqual(0n);
    // After the first failed check it is on probation again: every later garbage answer is caught at once.
    const first = codes.indexOf('WRONG_RESULT');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(codes.slice(first).every((c) => c === 'WRONG_RESULT')).toBe(true);
    // The slash went to treasury, in balanced postings.
    await expectBooksEqual(m);
  }, 300_000);

  it('an honest provider funds its bond from its first payouts, in the payout posting, and is checked less as checks pass', async () => {
    const m = await bondMarket();
    const p = await markets.join(m, SEED + 9, { max_jobs: 1 });
    for (let i = 0; i < 12; i++) {
      await postTask(m, task(`honest-${i}`, '1.0'));
      const job = await p.nextJob(i);
      p.sendResult(resultFor(m, p, job, false));
      expect(await p.ackFor(job.job_id)).toMatchObject({ accepted: true });
    }
    // 12 jobs paying 0.25 CPC each: half of each went to the bond.
    expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(12n * 125_000n);
    expect(await balance(m, ACCOUNTS.bond(p.address))).toBe(12n * 125_000n);
    // GET /balances counts the part held as bond, so the node's receipts still add up to it.
    const res = await fetch(`${m.base}/balances/${p.address}`);
    expect(await res.json()).toMatchObject({
      balance_micro: String(12n * 250_000n),
      worker_micro: String(12n * 125_000n),
      bond_micro: String(12n * 125_000n),
    });
    const history = await m.store.transaction((tx) => tx.bonds.probation(p.address));
    // Every job is checked until 10 checks in a row have passed and the 11th still is (10 ÷ 10);
    // the 12th is checked with probability 10 ÷ 11 (its draw depends on the job id), so 11 or 12.
    expect(history?.checksFailed).toBe(0);
    expect(history?.checksPassed).toBeGreaterThanOrEqual(11);
    expect(history?.checksPassed).toBeLessThanOrEqual(12);
    expect(history?.cleanStreak).toBe(history?.checksPassed);
    await expectBooksEqual(m);
  }, 120_000);
});
