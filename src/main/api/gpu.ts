import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

/** gpu:capabilities and gpu:benchmark (BLAKE3 MB/s on CPU, and on the GPU when usable). */
export function gpuHandlers(node: AppService): HandlerSet {
  return {
    'gpu:capabilities': () => node.gpu(),
    'gpu:benchmark': () => node.benchmark(),
  };
}
