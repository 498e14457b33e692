/**
 * Dawn worker thread: the BLAKE3 compute kernel on the `webgpu` package (Dawn for Node),
 * speaking the same protocol as the hidden compute page.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Blake3Kernel } from '../../shared/compute/blake3-kernel.js';
import { ComputeEndpoint } from '../../shared/compute/endpoint.js';
import type { DawnBackend, DawnWorkerData } from './dawn-host.js';

const port = parentPort;
if (!port) throw new Error('dawn-worker must run in a worker thread');

const { backends } = workerData as DawnWorkerData;

/** One Dawn instance per backend, kept for the worker's lifetime (adapters and devices live in it). */
const instances = new Map<DawnBackend, GPU>();

async function instance(backend: DawnBackend): Promise<GPU> {
  const existing = instances.get(backend);
  if (existing) return existing;
  const { create, globals } = await import('webgpu');
  // The kernel uses the WebGPU constant objects (GPUBufferUsage, …) as a page would.
  Object.assign(globalThis, globals);
  const gpu = create(backend === 'opengles' ? ['backend=opengles'] : []);
  instances.set(backend, gpu);
  return gpu;
}

async function requestAdapter(): Promise<GPUAdapter | null> {
  for (const backend of backends) {
    const gpu = await instance(backend);
    const adapter =
      backend === 'opengles'
        ? await gpu.requestAdapter({ featureLevel: 'compatibility' })
        : await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return adapter;
  }
  return null;
}

const endpoint = new ComputeEndpoint({
  requestAdapter,
  createKernel: (device, options) => Blake3Kernel.create(device, options),
  post: (reply) => port.postMessage(reply),
});

port.on('message', (m: unknown) => endpoint.handle(m));
