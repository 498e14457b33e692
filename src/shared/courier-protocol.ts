import { z } from 'zod';
import { MAX_CREDITS } from '../core/ledger/credits.js';

/**
 * Courier inbox contract: `POST {market}/courier/receipts`.
 * The market deduplicates by receipt id: a retried receipt is answered "duplicate" with the
 * reward it was first credited, so a lost response never credits twice.
 */
export const CourierReceiptWireSchema = z.object({
  id: z.string().min(1).max(64),
  bundle_hash: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  sender: z.string().min(1).max(256),
  created_at: z.number().int().nonnegative(),
  /** Ed25519 signature (hex) by node_id over courierSigningBytes(receipt). */
  signature: z.string().regex(/^[0-9a-f]{128}$/),
  /** The bundle bytes, base64. */
  bundle: z.string(),
});

export const CourierFlushRequestSchema = z.object({
  /** The forwarding node's Ed25519 public key, hex. */
  node_id: z.string().regex(/^[0-9a-f]{64}$/),
  receipts: z.array(CourierReceiptWireSchema).min(1).max(1000),
});

/**
 * Largest bundle one courier request can carry: bundles travel base64-encoded inside one JSON
 * request, which keeps them well below a JavaScript string's limit. `courier_max_bundle_bytes`
 * and `--max-bundle-bytes` are bounded by it; a stored bundle above it is never sent.
 */
export const MAX_COURIER_BUNDLE_BYTES = 64 << 20;

const IntegerString = z
  .union([
    z.string().regex(/^\d{1,19}$/),
    z.number().int().nonnegative().refine(Number.isSafeInteger, 'reward numbers above 2^53 must be sent as strings'),
  ])
  .transform((v) => BigInt(v))
  .refine((v) => v <= MAX_CREDITS, 'reward is larger than the ledger can hold');

export const CourierResultSchema = z.object({
  id: z.string(),
  status: z.enum(['accepted', 'duplicate', 'rejected']),
  reward: IntegerString,
  /** Why a receipt was rejected, in words, and its stable code (e.g. BAD_SIGNATURE). */
  reason: z.string().optional(),
  code: z.string().max(64).optional(),
});

export const CourierFlushResponseSchema = z.object({
  results: z.array(CourierResultSchema),
});

export type CourierReceiptWire = z.infer<typeof CourierReceiptWireSchema>;
export type CourierFlushRequest = z.infer<typeof CourierFlushRequestSchema>;
export type CourierResult = z.infer<typeof CourierResultSchema>;
