import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  CHANNELS,
  EVENTS,
  IPC_CALL_CHANNEL,
  IPC_EVENT_CHANNEL,
  type Channel,
  type EventName,
} from '../shared/channels.js';
import type { CallEnvelope, TesseraBridge } from '../shared/contract.js';

const channels = new Set<string>(CHANNELS);
const eventNames = new Set<string>(EVENTS);

/** A refusal answered here, before IPC: the same envelope the main process answers with. */
function refused(code: 'UNKNOWN_CHANNEL', message: string): CallEnvelope {
  return { ok: false, error: { code, message } };
}

/**
 * Exposes the contract's two verbs only — `call` and `on` — never ipcRenderer itself. `call`
 * answers the main process's envelope as it is (an Error thrown across contextBridge keeps only its
 * message); the renderer's client (`bridgeApi`) turns a failure into a ContractCallError with its code.
 */
const bridge = {
  async call(channel: Channel, args: unknown[]): Promise<unknown> {
    if (!channels.has(channel)) return refused('UNKNOWN_CHANNEL', `unknown channel "${String(channel)}"`);
    return ipcRenderer.invoke(IPC_CALL_CHANNEL, channel, args);
  },
  on(event: EventName, listener: (payload: unknown) => void): () => void {
    if (!eventNames.has(event)) throw new Error(`unknown event "${String(event)}"`);
    const wrapped = (_e: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (name === event) listener(payload);
    };
    ipcRenderer.on(IPC_EVENT_CHANNEL, wrapped);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, wrapped);
    };
  },
} satisfies TesseraBridge;

contextBridge.exposeInMainWorld('tessera', bridge);
