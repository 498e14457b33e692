/**
 * A 16 MiB slice upload's storage path, measured in one run: the bytes streamed into the market
 * store in 1 MiB chunks (writeSliceChunks, as PUT /tasks/{id}/slices/{n} does: BLAKE3 on the way,
 * one transaction per chunk) on PostgreSQL (when TESSERA_TEST_PG_URL is set) and on PGlite, against
 * the same bytes hashed and written to a file (what the market did before slices moved into the
 * store), and one job's 1 MiB read back (tx.slices.read). Usage: npx tsx bench/slice-upload.ts [reps]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { loadBlake3 } from '../src/node/hash/node-hasher.js';
import { writeSliceChunks } from '../src/market/services/slice-chunks.js';
import type { SqlDriver } from '../src/market/store/driver.js';
import { MarketStore } from '../src/market/store/market-store.js';
import { openPgDriver } from '../src/market/store/pg-driver.js';
import { openPgliteDriver } from '../src/market/store/pglite-driver.js';
import { machine } from './common.js';

const REPS = Number(process.argv[2] ?? 5);
const SIZE = 16 * 1024 * 1024;
/** Pieces of 64 KiB, as an HTTP body arrives. */
const PIECE = 64 * 1024;
const blake3 = await loadBlake3();
const clock = { now: () => Date.now() };
const bytes = randomBytes(SIZE);
const body = () =>
  Readable.from(
    (function* () {
      for (let off = 0; off < SIZE; off += PIECE) yield bytes.subarray(off, off + PIECE);
    })(),
  );
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mbps = (ms: number) => (SIZE / 1e6 / (ms / 1000)).toFixed(0);

async function intoStore(name: string, driver: SqlDriver): Promise<void> {
  const store = await MarketStore.open(driver);
  const customerId = randomUUID();
  await store.transaction((tx) =>
    tx.customers.insert({ customerId, name: `bench-${customerId}`, keyHash: customerId, createdAt: 0 }),
  );
  const up: number[] = [];
  const read: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const taskId = randomUUID();
    await store.transaction((tx) =>
      tx.tasks.insert({
        taskId,
        customerId,
        challengeType: 'rendering',
        payload: {},
        reward: 1n,
        deadline: null,
        status: 'draft',
        inputKind: 'slices',
        gpuRequired: false,
        lane: 'consumer',
        createdAt: 0,
      }),
    );
    let t0 = performance.now();
    const w = await writeSliceChunks({ store, clock, blake3 }, { taskId, n: 0 }, body());
    up.push(performance.now() - t0);
    await store.transaction((tx) =>
      tx.slices.put({ taskId, n: 0, bytes: w.bytes, blake3: w.blake3, uploadId: w.uploadId }, 0),
    );
    t0 = performance.now();
    const got = await store.transaction((tx) => tx.slices.read(taskId, 0, 5 * 1024 * 1024 + 123, 1024 * 1024));
    read.push(performance.now() - t0);
    if (!got || !Buffer.from(got).equals(bytes.subarray(5 * 1024 * 1024 + 123, 6 * 1024 * 1024 + 123)))
      throw new Error('read back differs');
  }
  console.log(
    `${name.padEnd(10)} upload 16 MiB: median ${median(up).toFixed(0)} ms (${mbps(median(up))} MB/s)  |  read 1 MiB job input: median ${median(read).toFixed(1)} ms`,
  );
  await store.close();
}

async function intoFile(dir: string): Promise<void> {
  const up: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const hash = blake3.create();
    const t0 = performance.now();
    const meter = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(body(), meter, createWriteStream(join(dir, `${r}.slice`), { flags: 'wx' }));
    hash.digest();
    up.push(performance.now() - t0);
  }
  console.log(`${'file'.padEnd(10)} upload 16 MiB: median ${median(up).toFixed(0)} ms (${mbps(median(up))} MB/s)`);
}

console.log(`slice upload, ${REPS} runs each; ${machine()}`);
const dir = mkdtempSync(join(tmpdir(), 'tessera-slice-bench-'));
try {
  await intoFile(dir);
  const url = process.env.TESSERA_TEST_PG_URL;
  if (url) {
    const schema = `tessera_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      await intoStore('postgres', await openPgDriver(url, { schema }));
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  }
  await intoStore('pglite', await openPgliteDriver(join(dir, 'store')));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
