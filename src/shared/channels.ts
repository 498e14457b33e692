/**
 * Channel names of the app contract, free of any dependency so the sandboxed preload can
 * bundle them. contract.ts maps each one to its schemas and is checked against this list.
 */
export const CHANNELS = ['app:info', 'gpu:capabilities', 'settlement:status', 'pricing:bands'] as const;
export type Channel = (typeof CHANNELS)[number];
