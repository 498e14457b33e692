/**
 * `npm run sim:cheaters [-- --seed N --jobs N]`: a seeded simulation of a market's checks, bonds
 * and payouts, with honest providers and cheaters of several strategies, on the market's own rules
 * (src/core/market/probation.ts for the checked fraction, the bond and the slash;
 * src/core/market/payout.ts for the split) and its default settings. Prints the net gain of
 * cheating per strategy, the wrong results no check caught (those are re-verified when their
 * provider fails a check: docs/verification.md), and the re-executions per 100 jobs honest
 * providers cause at steady state. docs/verification.md derives the same numbers; docs/PERFORMANCE.md
 * records a run.
 */
import {
  afterCheck,
  bondWithholding,
  checkProbability,
  slashAmount,
  type ProbationPolicy,
} from '../src/core/market/probation.js';
import { splitReward } from '../src/core/market/payout.js';
import { DEFAULT_VALIDATOR_CONFIG, probationPolicy } from '../src/market/validator/validator-config.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 0)
    throw new Error(`--${name} must be a whole number ≥ 0, got ${process.argv[i + 1]}`);
  return v;
};
const SEED = arg('seed', 20_240_601);
const ROUNDS = arg('jobs', 3000);
console.log(`sim:cheaters seed ${SEED} (rerun with --seed ${SEED}); ${ROUNDS} jobs offered per provider key`);

/** mulberry32: a small seeded generator, enough for a simulation. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);

const config = DEFAULT_VALIDATOR_CONFIG;
const policy: ProbationPolicy = probationPolicy(config);
const REWARD = 1_000_000n; // a 1 CPC one-job task
const PAY = splitReward(REWARD, [{ address: 'p', verifiedSlices: 1 }]).workers[0]?.amount ?? 0n;

type Strategy = { name: string; cheats: (jobIndex: number) => boolean };
const STRATEGIES: { strategy: Strategy; keys: number }[] = [
  { strategy: { name: 'honest', cheats: () => false }, keys: 20 },
  { strategy: { name: 'always', cheats: () => true }, keys: 20 },
  { strategy: { name: 'after 500 honest jobs', cheats: (j) => j >= 500 }, keys: 20 },
  { strategy: { name: 'after 2000 honest jobs', cheats: (j) => j >= 2000 }, keys: 20 },
  { strategy: { name: '20% of jobs', cheats: () => random() < 0.2 }, keys: 20 },
  { strategy: { name: '2% of jobs', cheats: () => random() < 0.02 }, keys: 20 },
  { strategy: { name: 'many keys (50), always', cheats: () => true }, keys: 50 },
];

interface Key {
  streak: number;
  bond: bigint;
  wrong: number;
  refused: boolean;
  /** Credits paid for honest work, for wrong results no check caught, and taken by slashes. */
  honestPay: bigint;
  cheatPay: bigint;
  slashed: bigint;
  jobs: number;
  checks: number;
  uncaught: number;
}

function runKey(strategy: Strategy): Key {
  const k: Key = {
    streak: 0,
    bond: 0n,
    wrong: 0,
    refused: false,
    honestPay: 0n,
    cheatPay: 0n,
    slashed: 0n,
    jobs: 0,
    checks: 0,
    uncaught: 0,
  };
  for (let j = 0; j < ROUNDS && !k.refused; j++) {
    const q = checkProbability({ cleanStreak: k.streak, bondFunded: k.bond }, policy, PAY);
    const checked = random() < q;
    const cheat = strategy.cheats(j);
    k.jobs++;
    if (checked) k.checks++;
    if (cheat && checked) {
      const taken = slashAmount(k.bond);
      k.bond -= taken;
      k.slashed += taken;
      k.streak = afterCheck(k.streak, false);
      k.wrong++;
      k.refused = k.wrong >= config.refuseAfter;
      continue; // a wrong result earns nothing
    }
    if (checked) k.streak = afterCheck(k.streak, true);
    const held = bondWithholding(PAY, k.bond, policy);
    k.bond += held;
    if (cheat) {
      k.cheatPay += PAY;
      k.uncaught++;
    } else k.honestPay += PAY;
  }
  return k;
}

const cpc = (micro: bigint): string => (Number(micro) / 1e6).toFixed(2);
console.log(
  `defaults: floor ${config.checkFraction}, probation ${config.probationJobs} checks, bond ${cpc(config.bondTarget)} CPC (${config.bondShare * 100}% of each payout until funded), refused after ${config.refuseAfter} wrong results; a job pays its provider ${cpc(PAY)} CPC`,
);
console.log(
  'strategy                     keys  refused  jobs/key  uncaught wrong  cheat pay  bond lost  net gain of cheating (all keys)',
);
let honestSteady = { jobs: 0, checks: 0 };
for (const { strategy, keys } of STRATEGIES) {
  const runs = Array.from({ length: keys }, () => runKey(strategy));
  const sum = (f: (k: Key) => bigint) => runs.reduce((a, k) => a + f(k), 0n);
  const cheatPay = sum((k) => k.cheatPay);
  const lost = sum((k) => k.slashed);
  const refused = runs.filter((k) => k.refused).length;
  const uncaught = runs.reduce((a, k) => a + k.uncaught, 0);
  const jobs = runs.reduce((a, k) => a + k.jobs, 0) / keys;
  console.log(
    `${strategy.name.padEnd(28)} ${String(keys).padStart(4)}  ${String(refused).padStart(7)}  ${jobs.toFixed(0).padStart(8)}  ${String(uncaught).padStart(14)}  ${cpc(cheatPay).padStart(9)}  ${cpc(lost).padStart(9)}  ${cpc(cheatPay - lost).padStart(8)} CPC`,
  );
  if (strategy.name === 'honest') honestSteady = { jobs: 0, checks: 0 };
}

// Honest overhead at steady state: re-executions per 100 jobs over an honest provider's jobs 1000…ROUNDS+1000.
{
  const k: Key = {
    streak: 0,
    bond: 0n,
    wrong: 0,
    refused: false,
    honestPay: 0n,
    cheatPay: 0n,
    slashed: 0n,
    jobs: 0,
    checks: 0,
    uncaught: 0,
  };
  let first = { jobs: 0, checks: 0 };
  for (let j = 0; j < ROUNDS + 1000; j++) {
    const q = checkProbability({ cleanStreak: k.streak, bondFunded: k.bond }, policy, PAY);
    const checked = random() < q;
    if (checked) k.streak = afterCheck(k.streak, true);
    k.bond += bondWithholding(PAY, k.bond, policy);
    if (j < 1000) first = { jobs: first.jobs + 1, checks: first.checks + (checked ? 1 : 0) };
    else honestSteady = { jobs: honestSteady.jobs + 1, checks: honestSteady.checks + (checked ? 1 : 0) };
  }
  console.log(
    `honest provider: re-executions per 100 jobs ${((100 * first.checks) / first.jobs).toFixed(1)} over its first 1000 jobs (probation and bond funding), ${((100 * honestSteady.checks) / honestSteady.jobs).toFixed(1)} at steady state (floor ${config.checkFraction * 100})`,
  );
}
