/** Length of a default BLAKE3 digest and of a SHA-256 digest, in bytes. */
export const DIGEST_BYTES = 32;

/** An incremental BLAKE3 hash: feed bytes with `update`, read the 32-byte digest once. */
export interface IncrementalHash {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/**
 * The BLAKE3 port. Core never hashes by itself: hosts supply an implementation
 * (native N-API in Node/Electron main, WASM as a fallback, WebGPU for big slices).
 */
export interface Blake3Hasher {
  /** Name of the implementation, for logs and the proof's backend field. */
  readonly implementation: string;
  /** One-shot default-length (32-byte) BLAKE3 digest. */
  hash(data: Uint8Array): Uint8Array;
  /** A fresh incremental hash state. */
  create(): IncrementalHash;
  /** One-shot keyed BLAKE3 (the MAC mode): `key` is exactly 32 bytes; 32-byte digest. */
  keyed(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** A fresh incremental keyed hash state under a 32-byte `key`. */
  createKeyed(key: Uint8Array): IncrementalHash;
}

/** Length of a BLAKE3 key (keyed mode), in bytes. */
export const BLAKE3_KEY_BYTES = 32;

/** The SHA-256 port, used by the Synthetic workload (seed and result hash). */
export type Sha256 = (data: Uint8Array) => Uint8Array;
