/**
 * Preload of the hidden compute window. Exposes nothing: it only forwards the one MessagePort
 * the main process sends into the page's main world, where the compute page speaks the
 * compute protocol over it (https://www.electronjs.org/docs/latest/tutorial/message-ports).
 */
import { ipcRenderer } from 'electron';
import { COMPUTE_PORT_CHANNEL, COMPUTE_PORT_MESSAGE } from '../shared/compute/port-names.js';

/** The few window members used here (the preload is type-checked without the DOM library). */
interface PreloadWindow {
  addEventListener(type: 'load', listener: () => void, options: { once: true }): void;
  postMessage(message: string, targetOrigin: string, transfer: readonly unknown[]): void;
}
const win = globalThis as unknown as PreloadWindow;

// Registered before the page loads, so the port is posted only once the page listens for it.
const loaded = new Promise<void>((resolve) => win.addEventListener('load', resolve, { once: true }));

// Only the main process can send on this channel; it sends exactly one port, once.
ipcRenderer.once(COMPUTE_PORT_CHANNEL, (event) => {
  if (event.ports.length !== 1) return;
  void loaded.then(() => win.postMessage(COMPUTE_PORT_MESSAGE, '*', event.ports));
});
