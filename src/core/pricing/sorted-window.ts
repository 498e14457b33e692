import { isU64 } from './lanes.js';
import { lowerBound, nearestRank, upperBound } from './quantile.js';

/**
 * A sliding window of the last `capacity` u64 values that is kept sorted as it slides.
 *
 * Two typed arrays: a ring buffer in arrival order (to know which value drops out) and the
 * same values in ascending order. An update finds the outgoing and incoming positions by
 * binary search and shifts only the slice between them with `copyWithin` (a memmove), so
 * quantiles are an index lookup and nothing is ever copied and re-sorted.
 */
export class SortedWindow {
  private readonly ring: BigUint64Array;
  private readonly sorted: BigUint64Array;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`window must be a positive integer, got ${capacity}`);
    this.ring = new BigUint64Array(capacity);
    this.sorted = new BigUint64Array(capacity);
  }

  /** Number of values currently in the window. */
  get size(): number {
    return this.count;
  }

  /** Adds a value; when the window is full the oldest value drops out and is returned. */
  push(value: bigint): bigint | undefined {
    if (!isU64(value)) throw new RangeError(`value ${value} is not an unsigned 64-bit integer`);
    const cap = this.capacity;
    if (this.count < cap) {
      this.ring[(this.head + this.count) % cap] = value;
      const at = upperBound(this.sorted, this.count, value);
      this.sorted.copyWithin(at + 1, at, this.count);
      this.sorted[at] = value;
      this.count++;
      return undefined;
    }
    const old = this.ring[this.head] as bigint;
    this.ring[this.head] = value;
    this.head = (this.head + 1) % cap;
    if (value === old) return old;
    // Remove `old` and insert `value` in one shift of the slice between the two positions.
    const out = lowerBound(this.sorted, cap, old);
    const into = upperBound(this.sorted, cap, value);
    if (value > old) {
      // into > out: values in (out, into) move one step left, value lands just before `into`.
      this.sorted.copyWithin(out, out + 1, into);
      this.sorted[into - 1] = value;
    } else {
      // into ≤ out: values in [into, out) move one step right.
      this.sorted.copyWithin(into + 1, into, out);
      this.sorted[into] = value;
    }
    return old;
  }

  /** The value of 0-based ascending rank `i`. */
  at(i: number): bigint {
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new RangeError(`rank ${i} is outside the window (size ${this.count})`);
    return this.sorted[i] as bigint;
  }

  /** The nearest-rank percentile (see quantile.ts); undefined when the window is empty. */
  percentile(percent: number): bigint | undefined {
    if (this.count === 0) return undefined;
    return this.sorted[nearestRank(this.count, percent) - 1] as bigint;
  }

  /** The values in arrival order, oldest first. */
  values(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.ring[(this.head + i) % this.capacity] as bigint);
    return out;
  }

  /** The values in ascending order. */
  ascending(): bigint[] {
    return Array.from(this.sorted.subarray(0, this.count));
  }

  /** Empties the window. */
  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}

/**
 * A sorted multiset of u64 values with insert and remove by value (binary search + memmove).
 * Mempools use it to read fee and age percentiles of queued jobs without sorting.
 */
export class SortedBag {
  private data = new BigUint64Array(16);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds one occurrence of `value`. */
  add(value: bigint): void {
    if (!isU64(value)) throw new RangeError(`value ${value} is not an unsigned 64-bit integer`);
    if (this.count === this.data.length) {
      const grown = new BigUint64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const at = upperBound(this.data, this.count, value);
    this.data.copyWithin(at + 1, at, this.count);
    this.data[at] = value;
    this.count++;
  }

  /** Removes one occurrence of `value`; false when it is not present. */
  delete(value: bigint): boolean {
    const at = lowerBound(this.data, this.count, value);
    if (at >= this.count || this.data[at] !== value) return false;
    this.data.copyWithin(at, at + 1, this.count);
    this.count--;
    return true;
  }

  /** The value of 0-based ascending rank `i` (undefined outside the bag). */
  at(i: number): bigint | undefined {
    return i >= 0 && i < this.count ? (this.data[i] as bigint) : undefined;
  }

  /** The nearest-rank percentile (see quantile.ts); undefined when empty. */
  percentile(percent: number): bigint | undefined {
    if (this.count === 0) return undefined;
    return this.data[nearestRank(this.count, percent) - 1] as bigint;
  }

  /** Empties the bag. */
  clear(): void {
    this.count = 0;
  }
}
