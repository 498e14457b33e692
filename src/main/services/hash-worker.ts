/**
 * Hash worker thread: hashes files (streamed through one reused buffer, so memory stays flat
 * for any file size), transferred byte buffers, and runs the Synthetic workload.
 */
import { parentPort } from 'node:worker_threads';
import { toHex } from '../../core/hex.js';
import { runSynthetic } from '../../core/workloads/synthetic.js';
import { WorkloadError } from '../../core/workloads/workload.js';
import { hashFileSync } from '../hash/hash-file.js';
import { loadBlake3, nodeSha256 } from '../hash/node-hasher.js';
import { describeFsError } from './fs-errors.js';
import type { HashRequest, HashResponse } from './hash-protocol.js';

const port = parentPort;
if (!port) throw new Error('hash-worker must run in a worker thread');

const hasherReady = loadBlake3();

port.on('message', (req: HashRequest) => {
  void handle(req).then((res) => port.postMessage(res));
});

async function handle(req: HashRequest): Promise<HashResponse> {
  try {
    const hasher = await hasherReady;
    switch (req.op) {
      case 'hash-file': {
        const { digest, bytes } = hashFileSync(hasher, req.path);
        return { id: req.id, ok: true, digest, bytes, implementation: hasher.implementation };
      }
      case 'hash-bytes':
        return { id: req.id, ok: true, digest: toHex(hasher.hash(req.data)), bytes: req.data.length, implementation: hasher.implementation };
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
