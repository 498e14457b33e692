/** Messages between the digest pool and a digest worker (src/node/digest/digest-worker.ts). */
export interface DigestTask {
  /** The job's input bytes (transferred); empty for Synthetic. */
  data: Uint8Array;
  /** The per-assignment BLAKE3 key (32 bytes). */
  key: Uint8Array;
  /** Synthetic: the digests cover the result matrix of these parameters instead of `data`. */
  synthetic: { block_hash: string; worker_address: string; matrix_size: number } | null;
}

export type DigestRequest = DigestTask & { id: number };

export type DigestResponse =
  | { id: number; ok: true; resultHash: string; proof: string; bytes: number }
  | { id: number; ok: false; message: string };
