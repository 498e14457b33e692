/**
 * Test fixture (a worker thread): runs the BLAKE3 kernel on a Dawn device with its queue
 * watched, and reports what each hashBoth uploaded and submitted. Dawn lives in a worker thread
 * here as it does in the product (src/main/gpu/dawn-worker.ts), its instance kept for the
 * worker's lifetime, so a test process never tears Dawn down on its own main thread.
 */
/// <reference types="@webgpu/types" />
import { parentPort } from 'node:worker_threads';
import { toHex } from '../../../src/core/hex.js';
import { Blake3Kernel } from '../../../src/shared/compute/blake3-kernel.js';

export interface KernelPassRequest {
  maxSegmentBytes: number;
  cases: { data: Uint8Array; key: Uint8Array }[];
}
export type KernelPassReply =
  | { ok: true; results: { keyed: string; plain: string; uploaded: number; submits: number }[] }
  | { ok: false; message: string };

const port = parentPort;
if (!port) throw new Error('kernel-pass-worker must run in a worker thread');
process.env.EGL_PLATFORM ??= 'surfaceless';
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const gpu = create(['backend=opengles']);

port.on('message', (req: KernelPassRequest) => {
  void run(req).then(
    (reply) => port.postMessage(reply),
    (err: unknown) =>
      port.postMessage({
        ok: false,
        message: err instanceof Error ? err.message : String(err),
      } satisfies KernelPassReply),
  );
});

async function run(req: KernelPassRequest): Promise<KernelPassReply> {
  const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' });
  if (!adapter) return { ok: false, message: 'no adapter' };
  const device = await adapter.requestDevice();
  let uploaded = 0;
  let submits = 0;
  const queue = device.queue;
  const write = queue.writeBuffer.bind(queue);
  const submit = queue.submit.bind(queue);
  queue.writeBuffer = ((...args: Parameters<GPUQueue['writeBuffer']>) => {
    const [buffer, , data, , size] = args;
    if (buffer.label === 'blake3 input') uploaded += size ?? (data as ArrayBufferView).byteLength;
    write(...args);
  }) as GPUQueue['writeBuffer'];
  queue.submit = ((buffers: Iterable<GPUCommandBuffer>) => {
    submits++;
    submit(buffers);
  }) as GPUQueue['submit'];
  const kernel = await Blake3Kernel.create(device, { maxSegmentBytes: req.maxSegmentBytes });
  try {
    const results = [];
    for (const c of req.cases) {
      uploaded = 0;
      submits = 0;
      const both = await kernel.hashBoth(c.data, c.key);
      results.push({ keyed: toHex(both.keyed), plain: toHex(both.plain), uploaded, submits });
    }
    return { ok: true, results };
  } finally {
    kernel.destroy();
    await queue.onSubmittedWorkDone();
    device.destroy();
  }
}
