/** Messages between the signature pool and a signature worker (src/market/validator/signature-worker.ts). */

export interface SignatureItem {
  /** Raw Ed25519 public key, hex. */
  publicKey: string;
  message: Uint8Array;
  /** Ed25519 signature, hex. */
  signature: string;
}

export interface SignatureRequest {
  id: number;
  items: SignatureItem[];
}

export type SignatureResponse = { id: number; ok: true; valid: boolean[] } | { id: number; ok: false; message: string };
