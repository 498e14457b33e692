import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/hex.js';
import { createSliceDigester } from '../../src/core/market/assignment-proof.js';
import { syntheticResult, syntheticSeed, Xoshiro128 } from '../../src/core/workloads/synthetic.js';
import { expectedDigests, jobOutputBytes } from '../../src/market/validator/split.js';
import { loadBlake3, nodeSha256 } from '../../src/node/hash/node-hasher.js';

/** docs/synthetic-workload.md's test vector, read from the doc so the doc and the code cannot drift apart. */
function docVector(): Record<string, string> {
  const doc = readFileSync(new URL('../../docs/synthetic-workload.md', import.meta.url), 'utf8');
  const block = /### Test vector[\s\S]*?```\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/synthetic-workload.md has no test vector block');
  return Object.fromEntries(
    block
      .trim()
      .split('\n')
      .map((line) => line.split('=').map((s) => s.trim()) as [string, string]),
  );
}

describe('docs/synthetic-workload.md test vector', () => {
  const v = docVector();
  const params = { block_hash: v.block_hash as string, worker_address: v.worker_address as string, matrix_size: 4 };

  it('gives the seed and the generator outputs the code computes', () => {
    expect(Number(v.matrix_size)).toBe(4);
    const seed = syntheticSeed(params, nodeSha256);
    expect(toHex(seed)).toBe(v.seed);
    const rng = new Xoshiro128(seed);
    const outputs = Array.from({ length: 32 }, () => rng.next());
    expect(outputs.slice(0, 4).join(' ')).toBe(v.first_outputs);
    expect(outputs.slice(16, 20).join(' ')).toBe(v.b_first_outputs);
  });

  it('gives the result matrix and both digests a provider sends and the validator re-executes', async () => {
    const blake3 = await loadBlake3();
    const output = syntheticResult(syntheticSeed(params, nodeSha256), 4);
    expect(toHex(output)).toBe(v.output);
    const d = createSliceDigester(fromHex(v.assignment_key as string), blake3);
    d.update(output);
    expect(d.digest()).toEqual({ resultHash: v.result_hash, proof: v.proof });
    // The validator's path (what it re-executes for a synthetic job) agrees.
    const validatorOutput = jobOutputBytes(
      { workload: 'synthetic', jobId: 'j', matrixSize: 4 } as Parameters<typeof jobOutputBytes>[0],
      new Uint8Array(0),
      { blockHash: params.block_hash, workerAddress: params.worker_address },
      nodeSha256,
    );
    expect(expectedDigests(validatorOutput, fromHex(v.assignment_key as string), blake3)).toEqual({
      resultHash: v.result_hash,
      proof: v.proof,
    });
  });
});
