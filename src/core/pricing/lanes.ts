/** The fee lanes every job declares: consumer work stays latency-sensitive, industrial work is admitted. */
export const LANES = ['consumer', 'industrial'] as const;
export type Lane = (typeof LANES)[number];

/** Parses a lane name as users and the market write it ("Consumer", "industrial"); undefined otherwise. */
export function parseLane(text: string): Lane | undefined {
  const lane = text.trim().toLowerCase();
  return (LANES as readonly string[]).includes(lane) ? (lane as Lane) : undefined;
}

/** Largest unsigned 64-bit integer: prices and fees are u64. */
export const U64_MAX = (1n << 64n) - 1n;

/** True when `value` is an integer price that fits in an unsigned 64-bit integer. */
export function isU64(value: bigint): boolean {
  return value >= 0n && value <= U64_MAX;
}
