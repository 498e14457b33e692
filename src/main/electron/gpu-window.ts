import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, MessageChannelMain } from 'electron';
import type { ComputeRequest } from '../../shared/compute/protocol.js';
import { COMPUTE_PORT_CHANNEL } from '../../shared/compute/port-names.js';
import type { ComputeChannel } from '../gpu/compute-client.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * Opens the hidden compute window (the desktop app's GPU host) and returns the MessagePort
 * channel to it. The page gets that port and nothing else: sandboxed, context-isolated, no
 * Node, a preload that only forwards the port, no navigation or new windows.
 */
export function openGpuWindowChannel(): ComputeChannel {
  const win = new BrowserWindow({
    show: false,
    width: 320,
    height: 240,
    title: 'Tessera compute',
    webPreferences: {
      preload: join(here, '../preload/compute.cjs'),
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      // A hidden window's timers and GPU work must not be throttled.
      backgroundThrottling: false,
    },
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.webContents.on('will-navigate', (e) => e.preventDefault());

  const { port1, port2 } = new MessageChannelMain();
  const closeListeners: ((reason: string) => void)[] = [];
  let closed = false;
  const closeWith = (reason: string) => {
    if (closed) return;
    closed = true;
    port1.close();
    for (const l of closeListeners) l(reason);
  };
  win.webContents.once('did-finish-load', () => win.webContents.postMessage(COMPUTE_PORT_CHANNEL, null, [port2]));
  win.webContents.on('render-process-gone', (_e, details) => closeWith(`compute page ${details.reason}`));
  win.on('closed', () => closeWith('window closed'));
  port1.start();

  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(`${process.env.ELECTRON_RENDERER_URL}/compute/index.html`);
  else void win.loadFile(join(here, '../renderer/compute/index.html'));

  return {
    post(message: ComputeRequest) {
      // Across processes a MessagePortMain copies ArrayBuffers; it transfers only ports.
      if (!closed) port1.postMessage(message);
    },
    onMessage(listener) {
      port1.on('message', (e) => listener(e.data));
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    async close() {
      closeWith('closed');
      if (!win.isDestroyed()) win.destroy();
    },
  };
}
