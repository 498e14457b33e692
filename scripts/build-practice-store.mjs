// Builds the practice market's store image: an empty PostgreSQL data directory made by PGlite's
// initdb with the market's migrations applied, dumped as a gzip tar to out/practice-store.tar.gz.
// The practice market unpacks it into a fresh data dir instead of running initdb and the
// migrations on the user's machine (seconds of CPU and ~450 MB of peak memory;
// docs/PERFORMANCE.md, "Memory and the first minute"). An image older than the migrations is
// still good: the store applies the missing ones when it opens, as for any store. Rebuilt only
// when PGlite's version or the migrations change. `--out FILE` writes elsewhere.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { register } from 'tsx/esm/api';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = values.out ?? 'out/practice-store.tar.gz';
const stampFile = `${out}.version`;
const pglite = JSON.parse(
  readFileSync(new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
).version;

// The market's store code is TypeScript: load it through tsx (a dev dependency, like this script).
const unregister = register();
const { MARKET_MIGRATIONS, marketMigrationHash } = await import('../src/market/store/migrations.ts');
const { openPgliteDriver } = await import('../src/market/store/pglite-driver.ts');
const { MarketStore } = await import('../src/market/store/market-store.ts');
await unregister();

const migrations = createHash('sha256')
  .update(MARKET_MIGRATIONS.map((m) => marketMigrationHash(m)).join('\n'))
  .digest('hex')
  .slice(0, 16);
const stamp = `pglite ${pglite}; migrations 1-${MARKET_MIGRATIONS.length} ${migrations}; no template databases`;
if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) {
  console.log(`${out} is up to date (${stamp})`);
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'tessera-practice-store-'));
try {
  const store = await MarketStore.open(await openPgliteDriver(join(dir, 'store')));
  await store.close();
  const db = await PGlite.create({ dataDir: join(dir, 'store') });
  // The store lives in the "postgres" database; the two template databases are two thirds of the
  // image's files, and a store never creates a database from them: left out, the image unpacks
  // in about half the time.
  for (const name of ['template0', 'template1']) {
    await db.exec(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
    await db.exec(`DROP DATABASE ${name}`);
  }
  await db.exec('CHECKPOINT');
  const image = await db.dumpDataDir('gzip');
  await db.close();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, Buffer.from(await image.arrayBuffer()));
  writeFileSync(stampFile, `${stamp}\n`);
  console.log(`built ${out} (${(image.size / 2 ** 20).toFixed(1)} MiB; ${stamp})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
