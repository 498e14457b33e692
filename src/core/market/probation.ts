/**
 * Probation, adaptive checking and the funded bond (docs/verification.md): how often the market
 * checks a provider's jobs, how much of its earnings it holds back as bond, and what a failed
 * check takes. Pure rules, shared by the market (dispatcher, payout, penalties) and the
 * `sim:cheaters` simulation, so the numbers the docs derive are the numbers the market uses.
 */

/** The market's probation and bond settings. */
export interface ProbationPolicy {
  /** The floor of the checked fraction (the market's `checkFraction`); 0 turns checking off altogether. */
  floor: number;
  /** Every job is checked until this many checks in a row have passed (and again after a failure). */
  probationJobs: number;
  /** The bond a provider must have funded, micro-CPC (0: no bond is held). */
  bondTarget: bigint;
  /** Share of each payout held back into the bond while it is below the target, basis points (0…10000). */
  bondShareBps: bigint;
}

/** A provider's verified history and funded bond, as the market stores them. */
export interface CheckHistory {
  /** Checks passed since the last failed one (all of them when none failed). */
  cleanStreak: number;
  /** Credits in the provider's `bond:<address>` account, micro-CPC. */
  bondFunded: bigint;
}

/**
 * The history part of the checked fraction: 1 for the first `probationJobs` passed checks (and
 * again after a failure), then `probationJobs / cleanStreak`, never below the floor. With the
 * defaults (10 jobs, floor 0.1) it is 1 up to 10 passed checks, 0.5 at 20, and the floor from 100.
 */
export function historyFraction(cleanStreak: number, policy: Pick<ProbationPolicy, 'floor' | 'probationJobs'>): number {
  if (policy.floor <= 0) return 0;
  if (cleanStreak < policy.probationJobs) return 1;
  return Math.min(1, Math.max(policy.floor, policy.probationJobs / Math.max(1, cleanStreak)));
}

/**
 * The bond part: a job paying the provider `jobPay` is checked with probability at least
 * jobPay / (jobPay + bondFunded), so that cheating on it loses in expectation:
 * (1 − q)·jobPay ≤ q·bondFunded (a failed check takes the whole funded bond). 1 with no funded
 * bond; 0 when the market holds no bond (bondTarget 0) or the job pays nothing.
 */
export function bondFraction(jobPay: bigint, bondFunded: bigint, policy: Pick<ProbationPolicy, 'bondTarget'>): number {
  if (policy.bondTarget <= 0n || jobPay <= 0n) return 0;
  if (bondFunded <= 0n) return 1;
  return Number(jobPay) / (Number(jobPay) + Number(bondFunded));
}

/** The probability that a job paying the provider `jobPay` is checked: the larger of the history and bond parts (0 when checking is off). */
export function checkProbability(history: CheckHistory, policy: ProbationPolicy, jobPay: bigint): number {
  if (policy.floor <= 0) return 0;
  return Math.max(historyFraction(history.cleanStreak, policy), bondFraction(jobPay, history.bondFunded, policy));
}

/** Passed checks still needed before the history part reaches the floor (0 once it has). */
export function checksUntilFloor(
  cleanStreak: number,
  policy: Pick<ProbationPolicy, 'floor' | 'probationJobs'>,
): number {
  if (policy.floor <= 0) return 0;
  const at = Math.max(policy.probationJobs, Math.ceil(policy.probationJobs / policy.floor));
  return Math.max(0, at - cleanStreak);
}

/**
 * How much of a payout of `amount` is held back into the bond: `bondShareBps` of it (rounded
 * down), at most what the bond still lacks. The rest goes to the provider's worker account.
 */
export function bondWithholding(amount: bigint, bondFunded: bigint, policy: ProbationPolicy): bigint {
  const lacking = policy.bondTarget - bondFunded;
  if (lacking <= 0n || amount <= 0n) return 0n;
  const share = (amount * policy.bondShareBps) / 10_000n;
  return share < lacking ? share : lacking;
}

/** What a failed check takes from the bond: all of it (the bond refills from later earnings). */
export function slashAmount(bondFunded: bigint): bigint {
  return bondFunded > 0n ? bondFunded : 0n;
}

/** The history after one job's check: a pass lengthens the clean streak, a failure ends it. */
export function afterCheck(cleanStreak: number, passed: boolean): number {
  return passed ? cleanStreak + 1 : 0;
}
