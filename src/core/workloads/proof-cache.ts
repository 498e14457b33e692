import { WorkloadError, type SliceProof, type Workload } from './workload.js';

/** What identifies the content a cached proof was computed from. */
export interface SliceIdentity {
  workload: Workload;
  /** Input length in bytes (Synthetic: matrix size). */
  length: number;
  /**
   * A host-supplied fingerprint of the source beyond its length (a file's inode and mtime,
   * Synthetic parameters); empty when the host has none.
   */
  fingerprint: string;
}

interface Entry {
  identity: SliceIdentity;
  proof: SliceProof;
  cost: number;
}

/** Approximate memory cost of one entry: strings are counted at 2 bytes a character. */
function entryCost(id: string, identity: SliceIdentity, proof: SliceProof): number {
  return 128 + 2 * (id.length + identity.fingerprint.length + proof.proof_hash.length + proof.workload.length);
}

/**
 * Proof cache keyed by slice id, bounded by the total bytes its entries take (LRU eviction).
 *
 * Unlike a cache keyed by id alone, a lookup must present the slice's identity: an id that
 * comes back with a different workload, length or fingerprint is refused with
 * SLICE_ID_REUSED, never answered with the stale proof.
 */
export class ProofCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(readonly maxBytes: number) {
    if (!Number.isFinite(maxBytes) || maxBytes < 0)
      throw new Error('proof cache size must be a non-negative number of bytes');
  }

  /** Number of cached proofs. */
  get size(): number {
    return this.entries.size;
  }

  /** Total bytes accounted to cached entries. */
  get bytes(): number {
    return this.total;
  }

  /** Returns the cached proof for `id` if its identity matches; throws if the id was reused. */
  get(id: string, identity: SliceIdentity): SliceProof | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    assertSameIdentity(id, entry.identity, identity);
    this.entries.delete(id);
    this.entries.set(id, entry); // most recently used goes last
    return entry.proof;
  }

  /** Stores a proof; the entry becomes most recently used, older ones are evicted to fit. */
  set(id: string, identity: SliceIdentity, proof: SliceProof): void {
    const existing = this.entries.get(id);
    if (existing) {
      assertSameIdentity(id, existing.identity, identity);
      this.entries.delete(id);
      this.total -= existing.cost;
    }
    const cost = entryCost(id, identity, proof);
    if (cost > this.maxBytes) return;
    this.entries.set(id, { identity, proof, cost });
    this.total += cost;
    for (const [oldId, old] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(oldId);
      this.total -= old.cost;
    }
  }
}

function assertSameIdentity(id: string, had: SliceIdentity, got: SliceIdentity): void {
  if (had.workload !== got.workload) {
    throw new WorkloadError(
      'SLICE_ID_REUSED',
      `slice id "${id}" was already used for workload ${had.workload}, now ${got.workload}; use a new slice id`,
    );
  }
  if (had.length !== got.length) {
    throw new WorkloadError(
      'SLICE_ID_REUSED',
      `slice id "${id}" was already used for ${had.length} bytes, now ${got.length}; use a new slice id`,
    );
  }
  if (had.fingerprint !== got.fingerprint) {
    throw new WorkloadError(
      'SLICE_ID_REUSED',
      `slice id "${id}" was already used for different content; use a new slice id`,
    );
  }
}
