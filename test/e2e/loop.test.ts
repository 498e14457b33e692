import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import { parseComputeResult } from '../../src/core/market/compute-result.js';
import { computeRoot, taskResultHash } from '../../src/core/market/merkle.js';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import { DigestPool } from '../../src/node/digest/digest-pool.js';
import { payloadInputBytes } from '../../src/market/services/task-service.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { pseudoRandomBytes } from '../support/data.js';
import { escrowTotal } from '../support/books.js';
import { tempDir } from '../support/temp-dir.js';
import { balance, getTask, postTask, startMarket } from '../support/market.js';
import { startProvider } from '../support/provider.js';
import { until } from '../support/wait.js';

const SEED = 0x10a9;
console.log(`loop test seed ${SEED}`);

/** Reference split (issue 9 §1): floor 25/10/5 %, burn takes the rest; workers pro rata by slices, largest remainder, ties by address. */
function referenceSplit(reward: bigint, slices: Map<string, number>) {
  const pool = (reward * 25n) / 100n;
  const validator = reward / 10n;
  const treasury = reward / 20n;
  const burn = reward - pool - validator - treasury;
  const total = BigInt([...slices.values()].reduce((a, b) => a + b, 0));
  const rows = [...slices.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([a, s]) => ({ a, amount: (pool * BigInt(s)) / total, frac: (pool * BigInt(s)) % total }));
  let left = pool - rows.reduce((x, r) => x + r.amount, 0n);
  for (const r of [...rows].sort((x, y) => (x.frac === y.frac ? (x.a < y.a ? -1 : 1) : x.frac > y.frac ? -1 : 1))) {
    if (left === 0n) break;
    r.amount += 1n;
    left -= 1n;
  }
  return { burn, validator, treasury, workers: new Map(rows.map((r) => [r.a, r.amount])) };
}

describe('the earning loop, end to end', () => {
  it('a customer posts tasks of every type, two providers run them, every result is verified, and balances and receipts are exact', async () => {
    const dir = tempDir('tessera-loop-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1, sliceBytes: 64 }, { digestThreads: 1 });
    const p1 = await startProvider(m.base, join(dir, 'p1'));
    // p1 digests on its own thread, p2 in its digest worker pool (what `tessera provide` uses).
    const pool = new DigestPool(1);
    const p2 = await startProvider(m.base, join(dir, 'p2'), { digester: pool });
    try {
      const sliceBytes = [pseudoRandomBytes(150, SEED), pseudoRandomBytes(40, SEED + 1)];
      const bodies = [
        {
          challenge_type: 'inference',
          payload: { model_id: 'gpt-3.5-turbo', prompt: 'Hello, world! '.repeat(12), max_tokens: 100 },
          reward: '10.0',
        },
        {
          challenge_type: 'training',
          payload: {
            model_architecture: 'resnet50',
            dataset_url: 'https://example.org/data',
            epochs: 10,
            batch_size: 32,
          },
          reward: '3.333333',
        },
        {
          challenge_type: 'rendering',
          payload: { scene_file: 'https://example.org/scene.blend', resolution: '1920x1080', frames: 100 },
          reward: '7.000001',
        },
        {
          challenge_type: 'synthetic',
          payload: { seed: '1234abcd', matrix_size: 8, iterations: 1, lane: 'industrial' },
          reward: '1.5',
        },
      ];
      const ids: string[] = [];
      for (const b of bodies) {
        const r = await postTask(m, b);
        expect(r.status).toBe(201);
        ids.push(r.json.task_id as string);
      }
      // A slice-input task: two uploaded slices, split by the 64-byte slice size into 3 + 1 jobs.
      const draft = await postTask(m, {
        challenge_type: 'rendering',
        input: 'slices',
        payload: { scene_file: 'https://example.org/s.blend', resolution: '640x480', frames: 2 },
        reward: '2.0',
      });
      expect(draft.status).toBe(201);
      const draftId = draft.json.task_id as string;
      for (const [n, bytes] of sliceBytes.entries()) {
        const put = await fetch(`${m.base}/tasks/${draftId}/slices/${n}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${m.customerKey}`, 'content-type': 'application/octet-stream' },
          body: bytes,
        });
        expect(put.status).toBeLessThan(300);
      }
      const sub = await fetch(`${m.base}/tasks/${draftId}/submit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${m.customerKey}` },
      });
      expect(sub.status).toBeLessThan(300);
      ids.push(draftId);
      const rewards = [10_000_000n, 3_333_333n, 7_000_001n, 1_500_000n, 2_000_000n];

      for (const id of ids)
        await until(
          `task ${id} completed`,
          () => getTask(m, id),
          (t) => t.status === 'completed',
          30_000,
        );

      // Who ran which slice, as the store recorded it (every result checked and accepted).
      const rows = await m.store.transaction(async (tx) => {
        const out: {
          taskId: string;
          jobId: string;
          worker: string;
          verdict: string;
          sliceIndex: number;
          hash: string;
        }[] = [];
        for (const id of ids) {
          for (const j of await tx.jobs.byTask(id)) {
            const res = await tx.validator.results(j.jobId);
            for (const r of res)
              out.push({
                taskId: id,
                jobId: j.jobId,
                worker: r.workerAddress,
                verdict: r.verdict,
                sliceIndex: j.sliceIndex,
                hash: r.settledHash,
              });
          }
        }
        return out;
      });
      expect(rows.every((r) => r.verdict === 'accepted')).toBe(true);
      const workers = new Set(rows.map((r) => r.worker));
      expect([...workers].every((w) => w === p1.address || w === p2.address)).toBe(true);

      // Expected money, from the reference split over the observed slice counts.
      let burn = 0n,
        validator = 0n,
        treasury = 0n;
      const perWorker = new Map<string, bigint>([
        [p1.address, 0n],
        [p2.address, 0n],
      ]);
      ids.forEach((id, i) => {
        const counts = new Map<string, number>();
        for (const r of rows.filter((x) => x.taskId === id)) counts.set(r.worker, (counts.get(r.worker) ?? 0) + 1);
        const s = referenceSplit(rewards[i] as bigint, counts);
        burn += s.burn;
        validator += s.validator;
        treasury += s.treasury;
        for (const [a, v] of s.workers) perWorker.set(a, (perWorker.get(a) ?? 0n) + v);
      });
      const spent = rewards.reduce((a, b) => a + b, 0n);
      expect(await balance(m, ACCOUNTS.customer(m.customerId))).toBe(1_000_000_000n - spent);
      expect(await balance(m, ACCOUNTS.burn)).toBe(burn);
      expect(await balance(m, ACCOUNTS.validator)).toBe(validator);
      expect(await balance(m, ACCOUNTS.treasury)).toBe(treasury);
      expect(await escrowTotal(m)).toBe(0n);
      for (const p of [p1, p2]) expect(await balance(m, ACCOUNTS.worker(p.address))).toBe(perWorker.get(p.address));

      // Each provider's ledger holds one receipt per job it ran, summing to its worker account.
      for (const p of [p1, p2]) {
        const mine = rows.filter((r) => r.worker === p.address).length;
        const repo = new ProviderJobsRepo(p.ledger.db);
        await until(
          `receipts of ${p.address}`,
          () => repo.earningsByDay(0).reduce((a, d) => a + d.jobs, 0),
          (n) => n === mine,
        );
        const paid = repo.earningsByDay(0).reduce((a, d) => a + d.paid, 0n);
        expect(paid).toBe(perWorker.get(p.address));
        const stored = p.ledger.db.all<{ n: number | bigint }>({
          text: 'SELECT count(*) AS n FROM receipts',
          values: [],
        })[0];
        expect(Number(stored?.n)).toBe(mine);
      }
      // Receipts were delivered (acknowledged) to every provider.
      await until(
        'receipts acknowledged',
        () =>
          m.store.transaction(
            async (tx) =>
              (await tx.validator.receipts(p1.address, true)).length +
              (await tx.validator.receipts(p2.address, true)).length,
          ),
        (n) => n === 0,
      );

      // result_hash of a payload task = Merkle root over BLAKE3 of its 64-byte input pieces, computed here.
      const inference = payloadInputBytes(bodies[0]?.payload as never);
      const pieces: string[] = [];
      for (let off = 0; off < inference.length; off += 64)
        pieces.push(toHex(m.blake3.hash(inference.subarray(off, off + 64))));
      expect(pieces.length).toBeGreaterThan(1);
      expect((await getTask(m, ids[0] as string)).result).toMatchObject({
        result_hash: taskResultHash(pieces, m.blake3),
      });
      const slicePieces = [
        sliceBytes[0]?.subarray(0, 64),
        sliceBytes[0]?.subarray(64, 128),
        sliceBytes[0]?.subarray(128),
        sliceBytes[1],
      ].map((b) => toHex(m.blake3.hash(b as Uint8Array)));
      expect((await getTask(m, draftId)).result).toMatchObject({ result_hash: taskResultHash(slicePieces, m.blake3) });

      // A sealed batch serves compute_root and SUBMIT_RESULT records of every accepted result.
      const n = await m.validator.sealBatchNow();
      expect(n).toBe(1);
      const batch = (await (await fetch(`${m.base}/batches/1`)).json()) as {
        compute_root: string;
        result_count: number;
        transactions: { tx_type: string; gas_limit: number }[];
      };
      expect(batch.result_count).toBe(rows.length);
      expect(batch.transactions.every((t) => t.tx_type === 'SUBMIT_RESULT' && t.gas_limit === 80_000)).toBe(true);
      // compute_root is the Merkle root over the canonical bytes of exactly the results it lists.
      const listed = (batch.transactions as unknown as { payload: unknown; from_address: string }[]).map((t) =>
        parseComputeResult(t.payload),
      );
      expect(batch.compute_root).toBe(computeRoot(listed, m.blake3));
      expect(
        listed.every(
          (r, i) => r.worker_address === (batch.transactions[i] as unknown as { from_address: string }).from_address,
        ),
      ).toBe(true);
      expect((await fetch(`${m.base}/batches/2`)).status).toBe(404);
    } finally {
      await p1.close();
      await p2.close();
      await pool.close();
      await m.close();
    }
  });
});
