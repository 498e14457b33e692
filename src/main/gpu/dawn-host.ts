import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { ComputeRequest } from '../../shared/compute/protocol.js';
import { startSiblingWorker } from '../../node/worker-entry.js';
import type { ComputeChannel } from './compute-client.js';

/**
 * Where the Dawn worker looks for an adapter, in order: `native` is Dawn's default backend
 * (Vulkan on Linux, Metal, D3D12), `opengles` is OpenGL ES through EGL in compatibility mode,
 * which on a machine without a GPU is Mesa's llvmpipe.
 */
export type DawnBackend = 'native' | 'opengles';

/** Data the Dawn worker starts with. */
export interface DawnWorkerData {
  backends: DawnBackend[];
}

export interface DawnHostOptions {
  /** Backends to try, in order (default: native, then OpenGL ES). */
  backends?: DawnBackend[];
}

/**
 * Starts the Dawn worker: the compiled sibling `dawn-worker.js` in a build, or the TypeScript
 * source through tsx's loader when running from source (tests, benchmarks).
 */
function startDawnWorker(workerData: DawnWorkerData): Worker {
  return startSiblingWorker(import.meta.url, 'dawn-worker', workerData);
}

/**
 * Native first, then OpenGL ES. On Linux without a Vulkan loader the native backend cannot
 * work and Dawn would only print a warning about it, so it is left out there.
 */
function defaultBackends(): DawnBackend[] {
  if (process.platform !== 'linux') return ['native', 'opengles'];
  const dirs = [
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/lib64',
  ];
  const vulkan = dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
  return vulkan ? ['native', 'opengles'] : ['opengles'];
}

/** How long closing waits for the worker's outstanding GPU work to settle. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Opens a GPU compute host on Dawn (the `webgpu` package) in a worker thread: the headless
 * node's GPU, and the one the tests use.
 */
export function openDawnChannel(options: DawnHostOptions = {}): ComputeChannel {
  const backends = options.backends ?? defaultBackends();
  if (backends.includes('opengles')) {
    // Mesa's EGL must not look for a display server: a headless node has none. EGL reads the
    // process environment, so this is set here, before the worker initialises it.
    process.env.EGL_PLATFORM ??= 'surfaceless';
  }
  const worker = startDawnWorker({ backends });
  let outstanding = 0;
  let closed = false;
  let onIdle: (() => void) | undefined;
  const closeListeners: ((reason: string) => void)[] = [];
  const closeWith = (reason: string) => {
    if (closed) return;
    closed = true;
    for (const l of closeListeners) l(reason);
  };
  // An idle host never holds the process open; one with work outstanding does.
  worker.unref();
  const track = (delta: number) => {
    outstanding = Math.max(0, outstanding + delta);
    if (outstanding > 0) worker.ref();
    else {
      worker.unref();
      onIdle?.();
    }
  };
  worker.on('message', (m: unknown) => {
    const type = (m as { type?: unknown } | null)?.type;
    if (
      type === 'ready' ||
      type === 'no-adapter' ||
      type === 'hashed' ||
      (type === 'failed' && (m as { id?: unknown }).id !== null)
    )
      track(-1);
  });
  worker.on('error', (e) => closeWith(e.message));
  worker.on('exit', (code) => closeWith(`exit code ${code}`));
  return {
    post(message: ComputeRequest, transfer: ArrayBuffer[]) {
      if (closed) return;
      if (message.type === 'init' || message.type === 'hash') track(1);
      worker.postMessage(message, transfer);
    },
    onMessage(listener) {
      worker.on('message', listener);
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    async close() {
      if (!closed && outstanding > 0) {
        // Dawn aborts the whole process when a worker is terminated while a GPU promise
        // (mapAsync, onSubmittedWorkDone) is pending. Dropping the device settles them all,
        // so wait for the outstanding requests to answer before terminating; a host that
        // does not answer within the grace period is terminated regardless.
        worker.postMessage({ type: 'drop-device' } satisfies ComputeRequest);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, CLOSE_GRACE_MS);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      closeWith('closed');
      await worker.terminate();
    },
  };
}
