/**
 * Digest worker thread: both digests of a job's output (plain BLAKE3 and keyed BLAKE3 under the
 * assignment key) in one pass over the bytes; for Synthetic the output is the result matrix,
 * computed here too, so a large matrix never blocks the thread that serves the socket. A large
 * output is hashed twice instead, each time split across all cores (native/blake3-subtree).
 */
import { availableParallelism } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { createSliceDigester } from '../../core/market/assignment-proof.js';
import { syntheticResult, syntheticSeed, validateSyntheticParams } from '../../core/workloads/synthetic.js';
import { loadBlake3, nodeSha256 } from '../hash/node-hasher.js';
import type { DigestRequest, DigestResponse } from './digest-protocol.js';
import { errorMessage } from '../../core/errors.js';
import { toHex } from '../../core/hex.js';
import { hashSplit, SPLIT_MIN_BYTES } from '../hash/split-file.js';
import { loadSubtreeHasher } from '../hash/subtree-hasher.js';

const port = parentPort;
if (!port) throw new Error('digest-worker must run in a worker thread');
const blake3Ready = loadBlake3();
const CHUNK = 1 << 16;
/** Threads for one large output: all cores (jobs hashed at once by other digest workers share them). */
const threads = availableParallelism();

port.on('message', (req: DigestRequest) => {
  void blake3Ready.then(async (blake3) => {
    let res: DigestResponse;
    try {
      let output = req.data;
      if (req.synthetic) {
        validateSyntheticParams(req.synthetic);
        output = syntheticResult(syntheticSeed(req.synthetic, nodeSha256), req.synthetic.matrix_size);
      }
      const subtree = output.length >= SPLIT_MIN_BYTES && threads > 1 ? loadSubtreeHasher() : undefined;
      if (subtree) {
        const split = (key: Uint8Array | null) =>
          hashSplit({ source: output, byteLength: output.length, key, threads, subtree });
        res = {
          id: req.id,
          ok: true,
          resultHash: toHex(await split(null)),
          proof: toHex(await split(req.key)),
          bytes: output.length,
        };
      } else {
        const d = createSliceDigester(req.key, blake3);
        for (let off = 0; off < output.length; off += CHUNK) d.update(output.subarray(off, off + CHUNK));
        res = { id: req.id, ok: true, ...d.digest(), bytes: output.length };
      }
    } catch (err) {
      res = { id: req.id, ok: false, message: errorMessage(err) };
    }
    port.postMessage(res);
  });
});
