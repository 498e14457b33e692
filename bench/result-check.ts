/**
 * What the market spends checking one signed result frame (src/market/validator): parsing the
 * frame, then MALFORMED / WRONG_MARKET / STALE / BAD_SIGNATURE. The reference is the same check
 * with the provider's public key parsed again for every result (what the validator did before it
 * kept one check per session); both run in this process on the same frames.
 *
 * Usage: npm run bench:result-check -- [--frames N] [--seed S]
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { computeResultToJson, verifyComputeResult } from '../src/core/market/compute-result.js';
import { verifyNodeSignature } from '../src/node/signing/node-signature.js';
import { loadBlake3 } from '../src/node/hash/node-hasher.js';
import {
  ed25519SignerFromSeed,
  resultSignatureCheck,
  signComputeResult,
  signerAddress,
} from '../src/node/signing/result-signing.js';
import { parseFrame, ProviderFrame } from '../src/shared/market-protocol.js';
import { seededRandom } from '../test/support/data.js';

const { values } = parseArgs({ options: { frames: { type: 'string' }, seed: { type: 'string' } } });
const frames = Number(values.frames ?? 2000);
const seed = Number(values.seed ?? 0x7e5c);
if (!Number.isInteger(frames) || frames < 1)
  throw new Error(`--frames must be a whole number ≥ 1, got ${values.frames}`);
console.log(
  `bench:result-check seed ${seed}; ${frames} frames; ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}`,
);

const blake3 = await loadBlake3();
const rand = seededRandom(seed);
const seedBytes = Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
const signer = ed25519SignerFromSeed(seedBytes);
const address = signerAddress(signer, blake3);
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
const now = Date.now();
const texts = Array.from({ length: frames }, (_, i) =>
  JSON.stringify({
    type: 'result',
    epoch: 1,
    result: computeResultToJson(
      signComputeResult(
        {
          market_id: 'bench-market',
          task_id: uuid(),
          job_id: uuid(),
          worker_address: address,
          result_hash: hex(64),
          proof: hex(64),
          nonce: BigInt(i + 1),
          created_at: now,
        },
        { signer, blake3 },
      ),
    ),
  }),
);

const expect = { marketId: 'bench-market', now };
/** µs per frame of `check` over every frame (median of 5 passes after a warm-up). */
function perFrame(check: (text: string) => boolean): number {
  const passes: number[] = [];
  for (let pass = 0; pass < 6; pass++) {
    const t0 = performance.now();
    for (const t of texts) if (!check(t)) throw new Error('a valid frame was refused');
    if (pass > 0) passes.push(((performance.now() - t0) * 1000) / texts.length);
  }
  return passes.sort((a, b) => a - b)[2] as number;
}
const frameOf = (t: string) => {
  const p = parseFrame(ProviderFrame, t);
  if (!p.ok || p.frame.type !== 'result') throw new Error('frame did not parse');
  return p.frame;
};

const perResultKey = perFrame(
  (t) =>
    verifyComputeResult(frameOf(t).result, expect, (message, r) =>
      r.worker_address === address && verifyNodeSignature(signer.nodeId, message, r.signature)
        ? { ok: true }
        : { ok: false, message: 'bad' },
    ).ok,
);
const session = resultSignatureCheck(signer.nodeId, blake3);
const perSessionKey = perFrame((t) => verifyComputeResult(frameOf(t).result, expect, session).ok);
const parseOnly = perFrame((t) => frameOf(t).type === 'result');

console.log('| check of one result frame | µs per frame | frames/s on one thread |');
console.log('| --- | --- | --- |');
console.log(`| frame parse only | ${parseOnly.toFixed(0)} | ${Math.round(1e6 / parseOnly)} |`);
console.log(
  `| reference: key parsed for every result | ${perResultKey.toFixed(0)} | ${Math.round(1e6 / perResultKey)} |`,
);
console.log(
  `| key parsed once per session (the validator) | ${perSessionKey.toFixed(0)} | ${Math.round(1e6 / perSessionKey)} |`,
);
console.log(`ratio: ${(perResultKey / perSessionKey).toFixed(2)}× as many frames per second as the reference`);
