import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import { sql } from '../../src/market/store/sql.js';
import { tempDir } from '../support/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function setting(dataDir: string | undefined, profile: 'light' | 'server', name: string): Promise<string> {
  const driver = await openPgliteDriver(dataDir, { profile });
  try {
    const rows = await driver.transaction((c) =>
      c.query<{ setting: string }>(sql`SELECT current_setting(${name}) AS setting`),
    );
    return rows[0]?.setting ?? '';
  } finally {
    await driver.close();
  }
}

/**
 * Starts the practice market (from source, as the app's thread does) in a child process on a
 * fresh data dir with the given store image and prints what its start cost this process: RSS
 * before, peak RSS (VmHWM) after, and the steps it reported.
 */
const CHILD = `
const { readFileSync } = await import('node:fs');
const { startLocalMarket } = await import(${JSON.stringify(join(root, 'src/market/local-market.ts'))});
const { systemClock } = await import(${JSON.stringify(join(root, 'src/node/clock.ts'))});
const { loadBlake3 } = await import(${JSON.stringify(join(root, 'src/node/hash/node-hasher.ts'))});
const kb = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm').exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const blake3 = await loadBlake3();
const before = kb('VmRSS');
const steps = [];
const m = await startLocalMarket({ dataDir: process.argv[1], storeImage: process.argv[2], clock: systemClock, blake3, customer: false, onProgress: (p) => steps.push(p.step) });
const peak = kb('VmHWM');
await m.close();
console.log(JSON.stringify({ before, peak, steps }));
`;

describe('the practice market store is light', () => {
  it('opens PGlite with small buffers for the practice market, PostgreSQL defaults for the market server', async () => {
    const dir = tempDir('tessera-light-');
    expect(await setting(join(dir, 'store'), 'light', 'shared_buffers')).toBe('2MB');
    expect(await setting(join(dir, 'store'), 'light', 'work_mem')).toBe('1MB');
    // The settings are given at start, not written into the store: the same store opens with defaults as a server's.
    expect(await setting(join(dir, 'store'), 'server', 'shared_buffers')).toBe('128MB');
  }, 180_000);

  it('starts from the prebuilt image (no initdb) and adds well under 150 MB to its process', () => {
    const dir = tempDir('tessera-light-image-');
    const image = join(dir, 'practice-store.tar.gz');
    execFileSync(process.execPath, [join(root, 'scripts/build-practice-store.mjs'), '--out', image], {
      cwd: root,
      stdio: 'pipe',
    });
    expect(existsSync(image)).toBe(true);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', CHILD, join(dir, 'market'), image],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
        timeout: 170_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as {
      before: number;
      peak: number;
      steps: string[];
    };
    const addedMb = (out.peak - out.before) / 1024;
    console.log(`practice market start: +${addedMb.toFixed(1)} MB peak RSS; steps ${out.steps.join(' → ')}`);
    expect(out.steps[0]).toBe('unpacking');
    expect(out.steps).not.toContain('initdb');
    // Light profile, baseline WebAssembly code: ~85–110 MB here. PostgreSQL's defaults with TurboFan: ~200 MB; initdb: ~650 MB.
    expect(addedMb).toBeLessThan(150);
  }, 180_000);
});
