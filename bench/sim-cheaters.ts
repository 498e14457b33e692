/**
 * `npm run sim:cheaters [-- --seed N --jobs N --jobs-per-hour N]`: a seeded simulation of a
 * market's checks, bonds, payouts and reach-back, with honest providers and cheaters of several
 * strategies, on the market's own rules (src/core/market/probation.ts for the checked fraction,
 * the bond and the slash; src/core/market/payout.ts for the split; the reach-back as
 * src/market/validator/reach-back.ts and ReachBackRepo.enqueue run it) and its default settings.
 * Prints, per strategy, the wrong results delivered (accepted without a check, their task
 * completed), how many of them the reach-back corrected, the wrong final results (left
 * uncorrected at the end), the net gain of cheating, and the re-executions per 100 jobs (checks
 * plus reach-back). docs/verification.md derives the same numbers; docs/PERFORMANCE.md records a run.
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

const arg = (name: string, fallback: number, min: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < min)
    throw new Error(`--${name} must be a whole number ≥ ${min}, got ${process.argv[i + 1]}`);
  return v;
};
const SEED = arg('seed', 20_240_601, 0);
const ROUNDS = arg('jobs', 3000, 1);
/** How fast one key returns results: a result every 3600/N seconds (one job in flight at a time). */
const PER_HOUR = arg('jobs-per-hour', 60, 1);
const STEADY_FROM = 1000;
console.log(
  `sim:cheaters seed ${SEED} (rerun with --seed ${SEED}); ${ROUNDS} jobs offered per provider key, ${PER_HOUR} results per hour`,
);

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
const JOB_MS = 3_600_000 / PER_HOUR;

/** One result the market accepted: what the reach-back may re-verify. */
interface Result {
  t: number;
  checked: boolean;
  wrong: boolean;
  /** Found wrong by the reach-back: its task was reopened and redone by another provider. */
  corrected: boolean;
  queued: boolean;
}

/** A provider's watch (reach_back_watch): its end and its latest failure. */
interface Watch {
  until: number;
  failedAt: number;
}

interface Key {
  streak: number;
  bond: bigint;
  /** What `worker:<address>` holds: paid minus held back as bond minus clawed back. */
  worker: bigint;
  /** Failed checks and wrong results the reach-back found (the market's `wrong_results`). */
  failed: number;
  refused: boolean;
  results: Result[];
  watch: Watch | null;
  cheatPay: bigint;
  clawed: bigint;
  slashed: bigint;
  jobs: number;
  checks: number;
  /** Checks over the first STEADY_FROM jobs (probation and bond funding). */
  checksEarly: number;
  reexecuted: number;
  delivered: number;
  corrected: number;
}

type Strategy = { name: string; cheats: (jobIndex: number, key: Key) => boolean };
const STRATEGIES: { strategy: Strategy; keys: number }[] = [
  { strategy: { name: 'honest', cheats: () => false }, keys: 20 },
  { strategy: { name: 'honest, faulty (0.1% wrong)', cheats: () => random() < 0.001 }, keys: 20 },
  { strategy: { name: 'always', cheats: () => true }, keys: 20 },
  { strategy: { name: 'after 500 honest jobs', cheats: (j) => j >= 500 }, keys: 20 },
  { strategy: { name: 'after 2000 honest jobs', cheats: (j) => j >= 2000 }, keys: 20 },
  { strategy: { name: '20% of jobs', cheats: () => random() < 0.2 }, keys: 20 },
  { strategy: { name: '2% of jobs', cheats: () => random() < 0.02 }, keys: 20 },
  // Ten wrong results in a row after 500 honest jobs, then honest again (and at once when caught).
  { strategy: { name: 'burst of 10, then honest', cheats: (j, k) => j >= 500 && j < 510 && k.failed === 0 }, keys: 20 },
  { strategy: { name: 'many keys (50), always', cheats: () => true }, keys: 50 },
];

/** A failed check or a wrong result found by the reach-back: slash, count, refuse, watch (penalizeMany + watch). */
function penalize(k: Key, t: number): void {
  const taken = slashAmount(k.bond);
  k.bond -= taken;
  k.slashed += taken;
  k.streak = afterCheck(k.streak, false);
  k.failed++;
  k.refused = k.refused || k.failed >= config.refuseAfter;
  const w = k.watch;
  k.watch = w
    ? { until: Math.max(w.until, t + config.reachBackMs), failedAt: Math.max(w.failedAt, t) }
    : { until: t + config.reachBackMs, failedAt: t };
}

/**
 * What one reach-back pass queues (ReachBackRepo.enqueue): the watched key's results accepted
 * without a check and not corrected: of those up to the latest failure the newest `reachBackMax`,
 * however old, and every one after it until the watch ends; of a refused key, every one.
 */
function enqueue(k: Key): Result[] {
  const w = k.watch;
  if (!w) return [];
  const unchecked = k.results.filter((r) => !r.checked && !r.corrected);
  const open = k.refused ? unchecked : unchecked.filter((r) => r.t <= w.until);
  const before = open.filter((r) => r.t <= w.failedAt);
  const after = open.filter((r) => r.t > w.failedAt);
  const out = [...(k.refused ? before : before.slice(-config.reachBackMax)), ...after].filter((r) => !r.queued);
  for (const r of out) r.queued = true;
  return out;
}

/** Re-verifies queued results until a pass queues nothing more; a wrong one is corrected, clawed back and penalized. */
function reachBack(k: Key, t: number, queued: Result[]): void {
  for (let next = queued; next.length > 0; next = enqueue(k))
    for (const r of next) {
      k.reexecuted++;
      if (!r.wrong) continue;
      r.corrected = true;
      k.corrected++;
      const clawed = PAY < k.worker ? PAY : k.worker;
      k.worker -= clawed;
      k.clawed += clawed;
      penalize(k, t);
    }
  if (k.watch && k.watch.until < t) k.watch = null;
}

function runKey(strategy: Strategy): Key {
  const k: Key = {
    streak: 0,
    bond: 0n,
    worker: 0n,
    failed: 0,
    refused: false,
    results: [],
    watch: null,
    cheatPay: 0n,
    clawed: 0n,
    slashed: 0n,
    jobs: 0,
    checks: 0,
    checksEarly: 0,
    reexecuted: 0,
    delivered: 0,
    corrected: 0,
  };
  for (let j = 0; j < ROUNDS && !k.refused; j++) {
    const t = j * JOB_MS;
    const q = checkProbability({ cleanStreak: k.streak, bondFunded: k.bond }, policy, PAY);
    const checked = random() < q;
    const cheat = strategy.cheats(j, k);
    k.jobs++;
    if (checked) {
      k.checks++;
      if (j < STEADY_FROM) k.checksEarly++;
    }
    if (cheat && checked) {
      // Caught: settled on the validator's digest (the customer gets the right result), no pay.
      penalize(k, t);
      reachBack(k, t, enqueue(k));
      continue;
    }
    if (checked) k.streak = afterCheck(k.streak, true);
    const held = bondWithholding(PAY, k.bond, policy);
    k.bond += held;
    k.worker += PAY - held;
    const r: Result = { t, checked, wrong: cheat, corrected: false, queued: false };
    k.results.push(r);
    if (cheat) {
      k.cheatPay += PAY;
      k.delivered++;
    }
    // A result accepted without a check while its key is watched, after its failure, is queued at the next pass.
    const w = k.watch;
    if (w && !checked && t > w.failedAt && t <= w.until) {
      r.queued = true;
      reachBack(k, t, [r]);
    } else if (w && w.until < t) k.watch = null;
  }
  return k;
}

const cpc = (micro: bigint): string => (Number(micro) / 1e6).toFixed(2);
console.log(
  `defaults: floor ${config.checkFraction}, probation ${config.probationJobs} checks, bond ${cpc(config.bondTarget)} CPC (${config.bondShare * 100}% of each payout until funded), refused after ${config.refuseAfter} wrong results; a job pays its provider ${cpc(PAY)} CPC`,
);
console.log(
  `reach-back: the newest ${config.reachBackMax} unchecked results before each failure and all for ${config.reachBackMs / 3_600_000} h after it; a refused key's every unchecked result`,
);
const cols = [
  ['strategy', 28],
  ['keys', 4],
  ['refused', 7],
  ['jobs/key', 8],
  ['wrong delivered', 15],
  ['corrected', 9],
  ['wrong final', 11],
  ['never caught', 12],
  ['cheat pay', 9],
  ['clawed back', 11],
  ['bond lost', 9],
  ['net gain', 9],
  ['re-exec/100 jobs', 16],
] as const;
const row = (cells: string[]) =>
  console.log(cells.map((c, i) => (i === 0 ? c.padEnd(cols[0][1]) : c.padStart(cols[i]?.[1] ?? 0))).join('  '));
row(cols.map(([name]) => name));
const honest = { early: 0, earlyJobs: 0, steady: 0, steadyJobs: 0 };
for (const { strategy, keys } of STRATEGIES) {
  const runs = Array.from({ length: keys }, () => runKey(strategy));
  const sum = (f: (k: Key) => bigint) => runs.reduce((a, k) => a + f(k), 0n);
  const count = (f: (k: Key) => number) => runs.reduce((a, k) => a + f(k), 0);
  const cheatPay = sum((k) => k.cheatPay);
  const clawed = sum((k) => k.clawed);
  const lost = sum((k) => k.slashed);
  const jobs = count((k) => k.jobs);
  const delivered = count((k) => k.delivered);
  const corrected = count((k) => k.corrected);
  row([
    strategy.name,
    String(keys),
    String(runs.filter((k) => k.refused).length),
    (jobs / keys).toFixed(0),
    String(delivered),
    String(corrected),
    String(delivered - corrected),
    String(count((k) => (k.failed === 0 ? k.delivered : 0))),
    cpc(cheatPay),
    cpc(clawed),
    cpc(lost),
    `${cpc(cheatPay - clawed - lost)} CPC`,
    ((100 * count((k) => k.checks + k.reexecuted)) / jobs).toFixed(1),
  ]);
  if (strategy.name === 'honest')
    for (const k of runs) {
      honest.early += k.checksEarly;
      honest.earlyJobs += Math.min(k.jobs, STEADY_FROM);
      honest.steady += k.checks - k.checksEarly;
      honest.steadyJobs += Math.max(0, k.jobs - STEADY_FROM);
    }
}
const per100 = (n: number, jobs: number) => (jobs > 0 ? ((100 * n) / jobs).toFixed(1) : 'n/a');
console.log(
  `honest provider: re-executions per 100 jobs ${per100(honest.early, honest.earlyJobs)} over its first ${STEADY_FROM} jobs (probation and bond funding), ${per100(honest.steady, honest.steadyJobs)} at steady state (jobs ${STEADY_FROM}…${ROUNDS}; floor ${config.checkFraction * 100}); the reach-back re-executes nothing of an honest provider that never fails a check`,
);
