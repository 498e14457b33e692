/**
 * Hash worker thread: hashes files (streamed through one reused buffer, so memory stays flat
 * for any file size), transferred byte buffers, and runs the Synthetic workload.
 */
import { parentPort } from 'node:worker_threads';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { toHex } from '../../core/hex.js';
import { runSynthetic } from '../../core/workloads/synthetic.js';
import { WorkloadError } from '../../core/workloads/workload.js';
import { hashFileSync } from '../../node/hash/hash-file.js';
import { loadBlake3, nodeSha256 } from '../../node/hash/node-hasher.js';
import { createLogger } from '../../node/log.js';
import { describeFsError } from './fs-errors.js';
import type { HashRequest, HashResponse } from './hash-protocol.js';

const port = parentPort;
if (!port) throw new Error('hash-worker must run in a worker thread');

// A fallback to WebAssembly is logged (once per worker) on stderr.
const hasherReady = loadBlake3(createLogger('hash-worker'));
let hasher: Blake3Hasher | undefined;

port.on('message', (req: HashRequest) => {
  // Once the hasher is loaded, answer synchronously: no promise hop per slice.
  if (hasher) port.postMessage(handle(hasher, req));
  else
    void hasherReady.then((h) => {
      hasher = h;
      port.postMessage(handle(h, req));
    });
});

function handle(hasher: Blake3Hasher, req: HashRequest): HashResponse {
  try {
    switch (req.op) {
      case 'hash-file': {
        const { digest, bytes } = hashFileSync(hasher, req.path);
        return { id: req.id, ok: true, digest, bytes, implementation: hasher.implementation };
      }
      case 'hash-bytes':
        return {
          id: req.id,
          ok: true,
          digest: toHex(hasher.hash(req.data)),
          bytes: req.data.length,
          implementation: hasher.implementation,
        };
      case 'synthetic': {
        const r = runSynthetic(req.params, nodeSha256);
        return { id: req.id, ok: true, digest: r.proof_hash, bytes: r.bytes, implementation: 'js' };
      }
    }
  } catch (err) {
    if (err instanceof WorkloadError) return { id: req.id, ok: false, code: err.code, message: err.message };
    const path = req.op === 'hash-file' ? req.path : undefined;
    return { id: req.id, ok: false, code: 'BAD_SLICE', message: path ? describeFsError(err, path) : String(err) };
  }
}
