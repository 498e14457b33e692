/**
 * The hidden compute page: runs the BLAKE3 kernel on the page's WebGPU adapter for the main
 * process. It has no API but the one MessagePort it is handed (by the compute preload in the
 * desktop app, by the test harness in a browser); every request on it is validated.
 */
import { ComputeEndpoint } from '../../shared/compute/endpoint.js';
import { COMPUTE_PORT_MESSAGE } from '../../shared/compute/port-names.js';
import { Blake3Kernel } from '../../shared/compute/blake3-kernel.js';

/** Prefers a high-performance adapter; falls back to a compatibility-mode one. */
async function requestAdapter(): Promise<GPUAdapter | null> {
  const gpu = navigator.gpu as GPU | undefined;
  if (!gpu) return null;
  return (
    (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ??
    (await gpu.requestAdapter({ featureLevel: 'compatibility' }))
  );
}

let connected = false;

window.addEventListener('message', (event: MessageEvent) => {
  // Only a port posted by this window itself (the preload's isolated world shares it), once.
  if (connected || event.source !== window || event.data !== COMPUTE_PORT_MESSAGE) return;
  const port = event.ports[0];
  if (!port || event.ports.length !== 1) return;
  connected = true;
  const endpoint = new ComputeEndpoint({
    requestAdapter,
    createKernel: (device, options) => Blake3Kernel.create(device, options),
    post: (reply) => port.postMessage(reply),
  });
  port.onmessage = (e: MessageEvent) => endpoint.handle(e.data);
});
