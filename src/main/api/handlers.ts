import { CHANNELS, type Channel, type ContractHandlers } from '../../shared/contract.js';

/** A domain's share of the contract: some channels and their handlers. */
export type HandlerSet = Partial<ContractHandlers>;

/** A handler table that is not exactly one handler per channel (a programming error, thrown at start-up). */
export class HandlerTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerTableError';
  }
}

/**
 * Merges the per-domain handler sets into the one table every transport serves. Throws when a
 * channel is handled twice, a handler is for no channel of the contract, or a channel has none.
 */
export function mergeHandlers(...sets: HandlerSet[]): ContractHandlers {
  const merged: Partial<Record<string, unknown>> = {};
  const known = new Set<string>(CHANNELS);
  for (const set of sets) {
    for (const [channel, handler] of Object.entries(set)) {
      if (!known.has(channel)) throw new HandlerTableError(`handler for "${channel}", which is not a contract channel`);
      if (Object.hasOwn(merged, channel)) throw new HandlerTableError(`two handlers for "${channel}"`);
      if (typeof handler !== 'function') throw new HandlerTableError(`handler for "${channel}" is not a function`);
      merged[channel] = handler;
    }
  }
  const missing = CHANNELS.filter((c: Channel) => !Object.hasOwn(merged, c));
  if (missing.length > 0) throw new HandlerTableError(`no handler for ${missing.map((c) => `"${c}"`).join(', ')}`);
  return merged as ContractHandlers;
}
