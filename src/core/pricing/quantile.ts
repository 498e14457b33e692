/**
 * Quantiles in pricing use the nearest-rank definition, so every band is a price that was
 * actually seen (no interpolation, no fractions, integer arithmetic only):
 *
 *   for n ≥ 1 sorted values v[1] ≤ … ≤ v[n] and a percent p in 1..100,
 *   rank(p, n) = ceil(p · n / 100), and the p-th percentile is v[rank(p, n)].
 *
 * The median is the 50th percentile, i.e. the lower median when n is even. An empty
 * window has no quantiles.
 */
export function nearestRank(n: number, percent: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`nearest rank needs at least one value, got n=${n}`);
  if (!Number.isInteger(percent) || percent < 1 || percent > 100)
    throw new RangeError(`percent must be an integer from 1 to 100, got ${percent}`);
  // ceil(p·n/100) without floats: n ≤ 2^31 and p ≤ 100 keep p·n exact.
  return Math.max(1, Math.floor((percent * n + 99) / 100));
}

/** Binary search: the first index in `sorted[0..count)` whose value is greater than `value`. */
export function upperBound(sorted: BigUint64Array, count: number, value: bigint): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as bigint) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Binary search: the first index in `sorted[0..count)` whose value is not less than `value`. */
export function lowerBound(sorted: BigUint64Array, count: number, value: bigint): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as bigint) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
