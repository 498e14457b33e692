/**
 * Digest worker thread: both digests of a job's output (plain BLAKE3 and keyed BLAKE3 under the
 * assignment key) in one pass over the bytes; for Synthetic the output is the result matrix,
 * computed here too, so a large matrix never blocks the thread that serves the socket.
 */
import { parentPort } from 'node:worker_threads';
import { createSliceDigester } from '../../core/market/assignment-proof.js';
import { syntheticResult, syntheticSeed, validateSyntheticParams } from '../../core/workloads/synthetic.js';
import { loadBlake3, nodeSha256 } from '../hash/node-hasher.js';
import type { DigestRequest, DigestResponse } from './digest-protocol.js';
import { errorMessage } from '../../core/errors.js';

const port = parentPort;
if (!port) throw new Error('digest-worker must run in a worker thread');
const blake3Ready = loadBlake3();
const CHUNK = 1 << 16;

port.on('message', (req: DigestRequest) => {
  void blake3Ready.then((blake3) => {
    let res: DigestResponse;
    try {
      let output = req.data;
      if (req.synthetic) {
        validateSyntheticParams(req.synthetic);
        output = syntheticResult(syntheticSeed(req.synthetic, nodeSha256), req.synthetic.matrix_size);
      }
      const d = createSliceDigester(req.key, blake3);
      for (let off = 0; off < output.length; off += CHUNK) d.update(output.subarray(off, off + CHUNK));
      res = { id: req.id, ok: true, ...d.digest(), bytes: output.length };
    } catch (err) {
      res = { id: req.id, ok: false, message: errorMessage(err) };
    }
    port.postMessage(res);
  });
});
