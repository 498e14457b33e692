import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, type Channel } from '../shared/channels.js';
import type { TesseraApi } from '../shared/contract.js';

const allowed = new Set<string>(CHANNELS);

/** Exposes the contract's verbs only — never ipcRenderer itself. */
const api = {
  invoke(channel: Channel, ...args: unknown[]) {
    if (!allowed.has(channel)) return Promise.reject(new Error(`unknown channel ${String(channel)}`));
    return ipcRenderer.invoke(channel, ...args);
  },
} as TesseraApi;

contextBridge.exposeInMainWorld('tessera', api);
