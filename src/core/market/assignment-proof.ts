import { concatBytes, lengthPrefixed, u64le } from '../bytes.js';
import { BLAKE3_KEY_BYTES, type Blake3Hasher } from '../hash/hasher.js';
import { toHex, utf8 } from '../hex.js';

/** Domain-separation tag of the assignment-key derivation (docs/compute-result-encoding.md). */
export const ASSIGNMENT_KEY_TAG = 'tessera-assignment-key-v1';

/**
 * The per-assignment proof key the market sends with a job:
 *   BLAKE3-keyed(key = marketSecret, UTF-8("tessera-assignment-key-v1") ‖ field(jobId)
 *                ‖ field(providerAddress) ‖ u64le(leaseNonce))
 * A keyed hash is a PRF, so without the market's 32-byte secret the key of one assignment says
 * nothing about another's; a new lease (new leaseNonce) of the same job gets a new key.
 */
export function deriveAssignmentKey(
  marketSecret: Uint8Array,
  jobId: string,
  providerAddress: string,
  leaseNonce: bigint | number,
  blake3: Blake3Hasher,
): Uint8Array {
  if (marketSecret.length !== BLAKE3_KEY_BYTES)
    throw new RangeError(`the market secret must be ${BLAKE3_KEY_BYTES} bytes, got ${marketSecret.length}`);
  if (
    typeof leaseNonce === 'number'
      ? !Number.isSafeInteger(leaseNonce) || leaseNonce < 0
      : leaseNonce < 0n || leaseNonce >= 1n << 64n
  ) {
    throw new RangeError('leaseNonce must be an integer from 0 to 2^64 − 1');
  }
  const message = concatBytes([
    utf8(ASSIGNMENT_KEY_TAG),
    lengthPrefixed(jobId),
    lengthPrefixed(providerAddress),
    u64le(leaseNonce),
  ]);
  return blake3.keyed(marketSecret, message);
}

export const PAIR_KEY_TAG = 'tessera-pair-key-v1';

/**
 * The proof key of both runs of a paired job (verify mode second_provider or both):
 *   BLAKE3-keyed(key = marketSecret, UTF-8("tessera-pair-key-v1") ‖ field(primaryJobId))
 * Both runs share it, so two honest runs agree on the proof as well as on the plain hash: a
 * plain hash copied from a public source, with a made-up proof, disagrees and goes to
 * re-execution. Neither provider sees the other's result, so agreeing on the proof takes the
 * bytes and the key — or collusion between the two.
 */
export function derivePairKey(marketSecret: Uint8Array, primaryJobId: string, blake3: Blake3Hasher): Uint8Array {
  if (marketSecret.length !== BLAKE3_KEY_BYTES)
    throw new RangeError(`the market secret must be ${BLAKE3_KEY_BYTES} bytes, got ${marketSecret.length}`);
  return blake3.keyed(marketSecret, concatBytes([utf8(PAIR_KEY_TAG), lengthPrefixed(primaryJobId)]));
}

/** The two digests of one job's output bytes, as lower-case hex. */
export interface SliceDigests {
  /** Plain BLAKE3: the customer's result, the same for every provider. */
  resultHash: string;
  /** Keyed BLAKE3 under the assignment key: worthless to anyone holding another key. */
  proof: string;
}

/** Feeds one pass over the bytes to both hashes: each chunk updates the plain and the keyed state. */
export interface SliceDigester {
  update(chunk: Uint8Array): void;
  digest(): SliceDigests;
}

/** A digester for streamed bytes (chunks in order, read once). */
export function createSliceDigester(assignmentKey: Uint8Array, blake3: Blake3Hasher): SliceDigester {
  const plain = blake3.create();
  const keyed = blake3.createKeyed(assignmentKey);
  return {
    update(chunk) {
      plain.update(chunk);
      keyed.update(chunk);
    },
    digest: () => ({ resultHash: toHex(plain.digest()), proof: toHex(keyed.digest()) }),
  };
}

/** Both digests of bytes given as chunks, in one pass (each chunk is read by both hashes before the next). */
export function sliceDigests(
  chunks: Iterable<Uint8Array>,
  assignmentKey: Uint8Array,
  blake3: Blake3Hasher,
): SliceDigests {
  const d = createSliceDigester(assignmentKey, blake3);
  for (const chunk of chunks) d.update(chunk);
  return d.digest();
}
