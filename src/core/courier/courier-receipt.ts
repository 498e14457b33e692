import { utf8 } from '../hex.js';

/** A bundle carried for a sender, to be forwarded to the market when the network is back. */
export interface CourierReceipt {
  /** UUIDv7: unique and time-ordered. */
  id: string;
  /** hex BLAKE3 of the bundle bytes. */
  bundle_hash: string;
  bytes: number;
  sender: string;
  /** ms since the Unix epoch. */
  created_at: number;
}

/** Validates a sender name; returns a one-line problem or undefined. */
export function senderProblem(sender: string): string | undefined {
  if (sender.trim().length === 0) return 'sender must not be empty';
  if (sender.length > 256) return 'sender must be at most 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(sender)) return 'sender must not contain control characters';
  return undefined;
}

function u64le(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  for (let i = 0; i < 8; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

function field(text: string): number[] {
  const bytes = utf8(text);
  const n = bytes.length;
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff, ...bytes];
}

/**
 * Bytes a node signs for a courier receipt (docs/receipt-encoding.md):
 *   "tessera-courier-v1" ‖ field(id) ‖ field(bundle_hash) ‖ u64le(bytes) ‖ field(sender) ‖ u64le(created_at)
 * where field(s) = u32le(byte length) ‖ UTF-8(s).
 */
export function courierSigningBytes(r: CourierReceipt): Uint8Array {
  return Uint8Array.from([...utf8('tessera-courier-v1'), ...field(r.id), ...field(r.bundle_hash), ...u64le(r.bytes), ...field(r.sender), ...u64le(r.created_at)]);
}
