// Builds the practice market's store image: an empty PostgreSQL data directory made by PGlite's
// initdb, dumped as a gzip tar to out/practice-store.tar.gz. The practice market unpacks it into
// a fresh data dir instead of running initdb on the user's machine (seconds of CPU and ~450 MB
// of peak memory; docs/PERFORMANCE.md, "Memory and the first minute"). The market's migrations
// are not in it: they run when the store opens, as for any store. Rebuilt only when PGlite's
// version changes. `--out FILE` writes elsewhere.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = values.out ?? 'out/practice-store.tar.gz';
const stamp = `${out}.version`;
const pkg = JSON.parse(
  readFileSync(new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
);
if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === pkg.version) {
  console.log(`${out} is up to date (PGlite ${pkg.version})`);
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'tessera-practice-store-'));
try {
  const db = await PGlite.create({ dataDir: join(dir, 'store') });
  const image = await db.dumpDataDir('gzip');
  await db.close();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, Buffer.from(await image.arrayBuffer()));
  writeFileSync(stamp, `${pkg.version}\n`);
  console.log(`built ${out} (${(image.size / 2 ** 20).toFixed(1)} MiB, PGlite ${pkg.version})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
