import { utf8 } from './hex.js';

/** Little-endian u32 (the length prefix of every variable field in signed and hashed encodings). */
export function u32le(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
}

/** Little-endian u64 of a non-negative integer (bigint, or a safe integer number). */
export function u64le(n: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 0; i < 8; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** field(s) = u32le(byte length) ‖ UTF-8(s), as docs/receipt-encoding.md defines it. */
export function lengthPrefixed(text: string): Uint8Array {
  const bytes = utf8(text);
  return concatBytes([u32le(bytes.length), bytes]);
}

/** Concatenates byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
