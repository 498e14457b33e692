import type { Channel, ChannelArgs, ChannelResult, TesseraApi } from '../../../shared/contract.js';

declare global {
  interface Window {
    tessera?: TesseraApi;
  }
}

/** Calls a contract channel through the preload bridge. */
export function call<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>> {
  const api = window.tessera;
  if (!api) return Promise.reject(new Error('Tessera API bridge is not available'));
  return api.invoke(channel, ...args);
}
