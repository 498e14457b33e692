import { PAYOUT_BPS, type Payout } from './payout.js';

/** How a customer's task is verified: the market's sampled checks, every job re-executed, or every job run by two providers. */
export type VerificationGuarantee = 'sampled' | 'all' | 'two_providers';

/** "all": the surcharge is this share of the reward (basis points), paid to the validator for the re-executions. */
export const ALL_CHECKED_BPS = 1000n;
const BPS = 10_000n;

/**
 * What a guarantee costs on top of the reward, micro-CPC (docs/market-api.md, "Verification"):
 * "sampled" nothing; "all" floor(reward × 10%), to the validator; "two_providers" the worker pool
 * again — floor(reward × 25%), exactly the pool splitReward takes — so each of the two runs earns
 * what a single run would.
 */
export function verificationSurcharge(reward: bigint, guarantee: VerificationGuarantee): bigint {
  if (guarantee === 'all') return (reward * ALL_CHECKED_BPS) / BPS;
  if (guarantee === 'two_providers') return (reward * PAYOUT_BPS.workers) / BPS;
  return 0n;
}

/**
 * The payout of a task with its surcharge added: "all" adds it to the validator's part;
 * "two_providers" doubles every worker's amount (the surcharge is the pool, so the doubled amounts
 * sum to pool + surcharge exactly). The result sums to the reward plus the surcharge.
 */
export function withSurcharge(payout: Payout, guarantee: VerificationGuarantee, surcharge: bigint): Payout {
  if (surcharge === 0n) return payout;
  if (guarantee === 'two_providers') {
    const pool = payout.workers.reduce((s, w) => s + w.amount, 0n);
    if (pool !== surcharge) throw new RangeError(`two_providers surcharge ${surcharge} is not the worker pool ${pool}`);
    return { ...payout, workers: payout.workers.map((w) => ({ address: w.address, amount: w.amount * 2n })) };
  }
  return { ...payout, validator: payout.validator + surcharge };
}
