import type { Channel, ChannelArgs, ChannelResult, EventName, EventPayload, TesseraApi } from '../../../shared/contract.js';
import { ContractCallError } from '../../../shared/contract.js';
import { WsContractClient } from './ws-client.js';

export { ContractCallError } from '../../../shared/contract.js';

declare global {
  interface Window {
    tessera?: TesseraApi;
  }
}

let wsApi: WsContractClient | undefined;

/** The contract's transport: the Electron preload bridge, else (headless mode) a WebSocket to the page's own host. */
function api(): TesseraApi {
  if (window.tessera) return window.tessera;
  if (!wsApi) {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    wsApi = new WsContractClient(new WebSocket(`${scheme}//${window.location.host}/api`));
  }
  return wsApi;
}

/** Calls a contract channel; a failure is a ContractCallError with its stable code. */
export function call<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>> {
  try {
    return api().call(channel, ...args);
  } catch (err) {
    return Promise.reject(err instanceof ContractCallError ? err : new ContractCallError('TRANSPORT_CLOSED', 'Tessera API bridge is not available'));
  }
}

/** Subscribes to a node event; returns the unsubscribe. */
export function on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
  return api().on(event, listener);
}
