import { concatBytes, lengthPrefixed, u64le } from '../bytes.js';
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

/**
 * Bytes a node signs for a courier receipt (docs/receipt-encoding.md):
 *   "tessera-courier-v1" ‖ field(id) ‖ field(bundle_hash) ‖ u64le(bytes) ‖ field(sender) ‖ u64le(created_at)
 * where field(s) = u32le(byte length) ‖ UTF-8(s).
 */
export function courierSigningBytes(r: CourierReceipt): Uint8Array {
  return concatBytes([
    utf8('tessera-courier-v1'),
    lengthPrefixed(r.id),
    lengthPrefixed(r.bundle_hash),
    u64le(r.bytes),
    lengthPrefixed(r.sender),
    u64le(r.created_at),
  ]);
}
