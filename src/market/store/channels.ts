import { createHash } from 'node:crypto';

/**
 * The market's notification channels (docs/market-api.md, "Wake-ups across instances"). Each is
 * notified in the transaction that commits the change it names; the payload is the notifying
 * store's origin id (MarketStore.origin), so an instance can tell its own commits from others'.
 */
export const MARKET_CHANNELS = [
  /** Jobs may be waiting for a provider: a task posted or submitted, a task split, jobs admitted, a job requeued. */
  'jobs_ready',
  /** Results were settled (a provider's capacity freed, a task perhaps completed). */
  'result_settled',
  /** Receipts were stored for providers (whichever instance they are connected to delivers them). */
  'receipt_stored',
  /** Which instance serves which provider changed. */
  'presence',
] as const;

export type MarketChannel = (typeof MARKET_CHANNELS)[number];

/** PostgreSQL truncates identifiers (channel names included) past 63 bytes. */
const MAX_CHANNEL_BYTES = 63;

/**
 * The PostgreSQL channel of `name` for the market kept in `schema`: `<schema>:<name>`, or, when
 * that would pass 63 bytes, `<16 hex digits of SHA-256(schema)>:<name>` (still one per schema).
 */
export function schemaChannel(schema: string, name: string): string {
  const full = `${schema}:${name}`;
  if (Buffer.byteLength(full, 'utf8') <= MAX_CHANNEL_BYTES) return full;
  return `${createHash('sha256').update(schema, 'utf8').digest('hex').slice(0, 16)}:${name}`;
}

/** A channel name as a quoted SQL identifier (for LISTEN / UNLISTEN, which take no parameters). */
export function quoteChannel(channel: string): string {
  return `"${channel.replace(/"/g, '""')}"`;
}
