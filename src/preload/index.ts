import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNELS, EVENTS, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type Channel, type EventName } from '../shared/channels.js';
import type { TesseraApi } from '../shared/contract.js';

const channels = new Set<string>(CHANNELS);
const eventNames = new Set<string>(EVENTS);

/** A call's failure as the UI sees it: an Error whose `code` is the stable code the node sent. */
function callError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'ContractCallError', code });
}

/**
 * Exposes the contract's two verbs only — `call` and `on` — never ipcRenderer itself. The main
 * process answers every call with an envelope; a failure is rethrown here with its code (the
 * renderer's client turns it into a ContractCallError).
 */
const api = {
  async call(channel: Channel, ...args: unknown[]) {
    if (!channels.has(channel)) throw callError('UNKNOWN_CHANNEL', `unknown channel "${String(channel)}"`);
    const env = (await ipcRenderer.invoke(IPC_CALL_CHANNEL, channel, args)) as { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };
    if (env.ok) return env.result;
    throw callError(env.error.code, env.error.message);
  },
  on(event: EventName, listener: (payload: unknown) => void) {
    if (!eventNames.has(event)) throw callError('UNKNOWN_CHANNEL', `unknown event "${String(event)}"`);
    const wrapped = (_e: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (name === event) listener(payload);
    };
    ipcRenderer.on(IPC_EVENT_CHANNEL, wrapped);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, wrapped);
    };
  },
} as TesseraApi;

contextBridge.exposeInMainWorld('tessera', api);
