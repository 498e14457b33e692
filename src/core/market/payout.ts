/**
 * The split of a completed task's reward (basis points of the reward):
 * 60% burned, 25% to the workers, 10% to the validator, 5% to the treasury.
 */
export const PAYOUT_BPS = { burn: 6000n, workers: 2500n, validator: 1000n, treasury: 500n } as const;
const BPS = 10_000n;

/** A worker's share basis: how many of the task's slices it had verified. */
export interface WorkerSlices {
  address: string;
  verifiedSlices: number;
}

export interface Payout {
  burn: bigint;
  validator: bigint;
  treasury: bigint;
  /** Per worker address, in address order; sums to the worker pool. */
  workers: { address: string; amount: bigint }[];
}

/**
 * Splits `reward` (micro-CPC) into integer parts that always sum to it.
 *
 * Remainder rule: the worker pool, validator and treasury parts are each rounded down from
 * their percentage; the rounding dust of those three goes to burn. The worker pool is split
 * pro rata by verified slices (largest remainder): each worker gets floor(pool·s/S), and the
 * micro-CPC left over go one each to the workers with the largest fractional part
 * (pool·s mod S), ties broken by address in ascending byte order. A worker listed twice is merged.
 */
export function splitReward(reward: bigint, workers: readonly WorkerSlices[]): Payout {
  if (reward < 0n) throw new RangeError('reward must not be negative');
  const slices = new Map<string, bigint>();
  for (const w of workers) {
    if (!Number.isSafeInteger(w.verifiedSlices) || w.verifiedSlices < 1)
      throw new RangeError(`worker ${w.address} needs at least one verified slice`);
    slices.set(w.address, (slices.get(w.address) ?? 0n) + BigInt(w.verifiedSlices));
  }
  if (slices.size === 0) throw new RangeError('a payout needs at least one worker with a verified slice');

  const pool = (reward * PAYOUT_BPS.workers) / BPS;
  const validator = (reward * PAYOUT_BPS.validator) / BPS;
  const treasury = (reward * PAYOUT_BPS.treasury) / BPS;
  const burn = reward - pool - validator - treasury;

  const addresses = [...slices.keys()].sort(compareAddress);
  const total = addresses.reduce((sum, a) => sum + (slices.get(a) as bigint), 0n);
  const shares = addresses.map((address) => {
    const weighted = pool * (slices.get(address) as bigint);
    return { address, amount: weighted / total, frac: weighted % total };
  });
  let left = pool - shares.reduce((sum, s) => sum + s.amount, 0n);
  const byFraction = [...shares].sort((a, b) =>
    a.frac === b.frac ? compareAddress(a.address, b.address) : a.frac > b.frac ? -1 : 1,
  );
  for (const s of byFraction) {
    if (left === 0n) break;
    s.amount += 1n;
    left -= 1n;
  }
  return { burn, validator, treasury, workers: shares.map(({ address, amount }) => ({ address, amount })) };
}

/** Ascending order by UTF-16 code units (addresses are ASCII, so this is byte order). */
function compareAddress(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
