/**
 * Channel and event names of the app contract, free of any dependency so the sandboxed preload
 * can bundle them. contract.ts maps each one to its schemas and is checked against these lists.
 */
export const CHANNELS = [
  'app:info',
  'node:info',
  'node:status',
  'node:join',
  'node:leave',
  'node:pause',
  'node:resume',
  'jobs:list',
  'jobs:workloads',
  'earnings:summary',
  'earnings:reconciliation',
  'settlement:status',
  'settlement:set-mode',
  'courier:list',
  'courier:send',
  'courier:flush',
  'pricing:bands',
  'gpu:capabilities',
  'gpu:benchmark',
  'settings:get',
  'settings:set',
  'diagnostics:report',
  'logs:recent',
] as const;
export type Channel = (typeof CHANNELS)[number];

/** Server → UI pushes. */
export const EVENTS = [
  'node:status',
  'job:progress',
  'job:finished',
  'earnings:changed',
  'courier:flush-progress',
  'gpu:capabilities-changed',
  'log:line',
] as const;
export type EventName = (typeof EVENTS)[number];

/** The two IPC channels the Electron transport uses: calls (`{channel, args}` → envelope) and events (`{event, payload}`). */
export const IPC_CALL_CHANNEL = 'tessera:call';
export const IPC_EVENT_CHANNEL = 'tessera:event';
