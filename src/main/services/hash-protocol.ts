import type { SyntheticParams } from '../../core/workloads/workload.js';

/** Messages from the pool to a hash worker. */
export type HashTask =
  | { op: 'hash-file'; path: string }
  | { op: 'hash-bytes'; data: Uint8Array }
  | { op: 'synthetic'; params: SyntheticParams };

export type HashRequest = HashTask & { id: number };

/** A worker's answer to one task. */
export type HashResponse =
  | { id: number; ok: true; digest: string; bytes: number; implementation: string }
  | { id: number; ok: false; code: string; message: string };

export interface HashResult {
  digest: string;
  bytes: number;
  implementation: string;
}
