/**
 * `npm run bench:ui` — the app's UI figures (docs/PERFORMANCE.md, "App"), against the BUILT
 * app (`npm run build` first), in Debian's Chromium:
 *   0. time from spawning `tessera headless` (fresh data dir) to the first non-zero earning on
 *      the Dashboard, which the app opens by itself once joined, with its breakdown: URL printed,
 *      practice market ready, joined, first job, first receipt, on screen
 *      (docs/PERFORMANCE.md, "Memory and the first minute");
 *   1. time from spawning `tessera headless` to the first job row shown in the Jobs screen;
 *   2. the renderer bundle: each chunk of out/renderer/assets raw and gzip, and what is in it
 *      (a second build of the same renderer with source maps, bytes attributed per package);
 *   3. the Jobs table with ROWS seeded rows: time to the first rows, to the oldest row, and
 *      frame times (requestAnimationFrame deltas) while scrolling it top to bottom;
 *   4. RSS of the headless process (and its children) after 1 minute of practice jobs and
 *      after --minutes N (default 2).
 * Flags: --minutes N, --rows N (default 10000), --seed S (default random, printed), --reps N
 * (first-earning and first-job runs, default 3), --no-gpu (start the node with --no-gpu),
 * --only-first-earning, --skip-memory, --skip-bundle.
 */
import { readdirSync, readFileSync, rmSync, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page } from '@playwright/test';
import { openLedger } from '../src/main/ledger.js';
import { sql } from '../src/main/db/sql.js';
import type { NodeStatusInfo } from '../src/shared/contract.js';
import {
  contractClient,
  HEADLESS_URL,
  spawnTessera,
  startHeadless,
  type HeadlessNode,
} from '../test/e2e/tessera-process.js';
import { seededRandom } from '../test/support/data.js';
import { fmt, machine, root } from './common.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    rows: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    reps: { type: 'string', default: '3' },
    'skip-memory': { type: 'boolean', default: false },
    'skip-bundle': { type: 'boolean', default: false },
    'no-gpu': { type: 'boolean', default: false },
    'only-first-earning': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const rows = Number(values.rows);
const reps = Number(values.reps);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!(minutes >= 1) || !(rows >= 1) || !(reps >= 1) || !Number.isInteger(seed)) {
  console.error('bench:ui: --minutes (≥ 1), --rows (≥ 1), --reps (≥ 1) and --seed (an integer) must be numbers');
  process.exit(2);
}
for (const f of ['out/cli/tessera.js', 'out/renderer/index.html']) {
  try {
    statSync(join(root, f));
  } catch {
    console.error(`bench:ui: ${f} is missing; run \`npm run build\` first`);
    process.exit(2);
  }
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const tempDirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
};

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const median = (xs: number[]) =>
  pct(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** A data row of the Jobs table (one with cells; the header row has column headers). */
function jobRows(page: Page) {
  return page
    .getByRole('table', { name: 'Job history' })
    .or(page.getByRole('grid', { name: 'Job history' }))
    .locator('[role="row"]:has([role="cell"], [role="gridcell"]), tr:has(td)');
}

// ---------- 0. first earning on screen ----------
/** Seconds from spawning the process to each step (null: not seen). */
interface FirstEarning {
  url: number;
  practiceReady: number | null;
  joined: number | null;
  firstJob: number | null;
  firstReceipt: number | null;
  onScreen: number;
}

/** In the page: the wall-clock time the Dashboard's "Earned today" first shows a number above zero. */
const WATCH_EARNINGS = `(() => {
  const check = () => {
    if (window.__firstEarningAt) return;
    const el = document.querySelector('[data-testid="earnings-today"]');
    if (el && /[1-9]/.test(el.textContent || '')) window.__firstEarningAt = Date.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
})()`;

async function firstEarningShown(browser: Browser): Promise<FirstEarning> {
  const dataDir = tempDir('tessera-bench-first-');
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.addInitScript(WATCH_EARNINGS);
  const t0 = Date.now();
  const p = spawnTessera(['headless', '--port', '0', '--data-dir', dataDir, ...(values['no-gpu'] ? ['--no-gpu'] : [])]);
  const s = (epochMs: number) => (epochMs - t0) / 1000;
  try {
    const url = (await p.waitForStdout(HEADLESS_URL, 180_000))[1] as string;
    const r: Omit<FirstEarning, 'onScreen'> = {
      url: s(Date.now()),
      practiceReady: null,
      joined: null,
      firstJob: null,
      firstReceipt: null,
    };
    const [, api] = await Promise.all([
      page.goto(url, { timeout: 180_000 }),
      (async () => {
        const u = new URL(url);
        const c = await contractClient({ origin: u.origin, token: u.searchParams.get('token') ?? '' });
        // The node stamps each phase with the time it began, so a phase over before the socket opened still counts.
        const onStatus = (st: NodeStatusInfo) => {
          const since = st.startup?.since;
          if (since === undefined) return;
          if (st.startup?.phase === 'connecting') r.practiceReady ??= s(since);
          if (st.startup?.phase === 'joined') {
            r.practiceReady ??= s(since);
            r.joined ??= s(since);
          }
        };
        c.on('node:status', onStatus);
        c.on('job:finished', () => (r.firstJob ??= s(Date.now())));
        c.on('earnings:changed', (e) => {
          if (BigInt(e.credits_today) > 0n) r.firstReceipt ??= s(Date.now());
        });
        onStatus(await c.call('node:status'));
        return c;
      })(),
    ]);
    try {
      const at = (await (
        await page.waitForFunction(() => (globalThis as { __firstEarningAt?: number }).__firstEarningAt, undefined, {
          timeout: 180_000,
          polling: 50,
        })
      ).jsonValue()) as number;
      return { ...r, onScreen: s(at) };
    } finally {
      api.close();
    }
  } finally {
    await page.close();
    const stopped = await p.stop();
    if (stopped.killed) console.error('warning: tessera headless was killed after SIGTERM timed out');
  }
}

// ---------- 1. first job shown ----------
async function firstJobShown(browser: Browser): Promise<{ url: number; page: number; row: number }> {
  const t0 = performance.now();
  const node = await startHeadless(tempDir('tessera-bench-ui-'), { join: true });
  const tUrl = performance.now() - t0;
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await page.goto(node.url, { timeout: 180_000 });
    await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 180_000 });
    const tPage = performance.now() - t0;
    await page.evaluate('location.hash = "#/jobs"');
    await jobRows(page).first().waitFor({ timeout: 180_000 });
    return { url: tUrl, page: tPage, row: performance.now() - t0 };
  } finally {
    await page.close();
    await stop(node);
  }
}

async function stop(node: HeadlessNode): Promise<void> {
  const r = await node.stop();
  if (r.killed || r.code !== 0)
    console.error(`warning: tessera headless exited ${r.code}${r.killed ? ' (killed after SIGTERM timed out)' : ''}`);
}

// ---------- 2. bundle ----------
interface Chunk {
  file: string;
  raw: number;
  gzip: number;
}

function shippedChunks(): Chunk[] {
  const dir = join(root, 'out/renderer/assets');
  return readdirSync(dir)
    .filter((f) => /\.(js|css)$/.test(f))
    .map((f) => {
      const b = readFileSync(join(dir, f));
      return { file: f, raw: b.length, gzip: gzipSync(b).length };
    })
    .sort((a, b) => b.gzip - a.gzip);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Source map v3 mappings → for each generated line, [column, source index] segments (VLQ decoded). */
function decodeMappings(mappings: string): { col: number; src: number }[][] {
  const lines: { col: number; src: number }[][] = [];
  let src = 0;
  for (const line of mappings.split(';')) {
    const segs: { col: number; src: number }[] = [];
    let col = 0;
    for (const seg of line.split(',')) {
      if (seg === '') continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      col += fields[0] ?? 0;
      if (fields.length >= 4) src += fields[1] ?? 0;
      segs.push({ col, src: fields.length >= 4 ? src : -1 });
    }
    lines.push(segs);
  }
  return lines;
}

/** Which package (or app folder) a source path belongs to. */
function packageOf(source: string): string {
  const nm = source.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = source.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] as string);
  }
  const m = /src\/(renderer\/app|renderer\/compute|shared\/compute|shared|core)\//.exec(source);
  return m ? `src/${m[1]}` : source.startsWith('\0') || source.includes('vite') ? '(bundler runtime)' : '(other)';
}

/** Builds the same renderer with source maps into a temp dir and attributes each chunk's bytes to packages. */
async function bundleContents(): Promise<{ chunk: string; parts: [string, number][]; total: number; gzip: number }[]> {
  const { build } = await import('vite');
  const react = (await import('@vitejs/plugin-react')).default;
  const outDir = tempDir('tessera-bench-bundle-');
  await build({
    configFile: false,
    logLevel: 'warn',
    root: join(root, 'src/renderer'),
    base: './',
    plugins: [react()],
    build: {
      outDir,
      emptyOutDir: true,
      sourcemap: true,
      rollupOptions: {
        input: { index: join(root, 'src/renderer/index.html'), compute: join(root, 'src/renderer/compute/index.html') },
      },
    },
  });
  const assets = join(outDir, 'assets');
  const out: { chunk: string; parts: [string, number][]; total: number; gzip: number }[] = [];
  for (const f of readdirSync(assets).filter((x) => x.endsWith('.js'))) {
    const code = readFileSync(join(assets, f), 'utf8');
    const map = JSON.parse(readFileSync(join(assets, `${f}.map`), 'utf8')) as { sources: string[]; mappings: string };
    const lines = code.split('\n');
    const decoded = decodeMappings(map.mappings);
    const bytes = new Map<string, number>();
    lines.forEach((line, i) => {
      const segs = decoded[i] ?? [];
      if (segs.length === 0) {
        bytes.set('(unmapped)', (bytes.get('(unmapped)') ?? 0) + line.length + 1);
        return;
      }
      const first = segs[0] as { col: number };
      bytes.set('(unmapped)', (bytes.get('(unmapped)') ?? 0) + first.col + 1);
      segs.forEach((s, j) => {
        const end = (segs[j + 1]?.col ?? line.length) - s.col;
        const key = s.src < 0 ? '(unmapped)' : packageOf(map.sources[s.src] ?? '');
        bytes.set(key, (bytes.get(key) ?? 0) + Math.max(0, end));
      });
    });
    const total = [...bytes.values()].reduce((a, b) => a + b, 0);
    out.push({
      chunk: f,
      parts: [...bytes.entries()].sort((a, b) => b[1] - a[1]),
      total,
      gzip: gzipSync(code.replace(/\n\/\/# sourceMappingURL=.*$/, '')).length,
    });
  }
  return out.sort((a, b) => b.total - a.total);
}

// ---------- 3. 10,000 rows ----------
async function seedJobs(dataDir: string, n: number, seedValue: number): Promise<void> {
  const rand = seededRandom(seedValue);
  const ctx = await openLedger({ dataDir });
  try {
    const workloads = ['blake3', 'blake3-keyed', 'synthetic-matmul'];
    const statuses = ['accepted', 'accepted', 'accepted', 'accepted', 'rejected', 'lost'] as const;
    const now = Date.now();
    ctx.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const status = statuses[Math.floor(rand() * statuses.length)] as (typeof statuses)[number];
        const started = now - (n - i) * 60_000 - Math.floor(rand() * 30_000);
        const duration = 50 + rand() * 4000;
        const id = String(i).padStart(6, '0');
        ctx.db.run(sql`
          INSERT INTO provider_jobs (market_id, task_id, job_id, epoch, workload, bytes, result_hash, proof, backend, duration_ms, status, code, credits, started_at, finished_at)
          VALUES ('bench-market', ${`bench-task-${id}`}, ${`bench-job-${id}`}, 1, ${workloads[Math.floor(rand() * workloads.length)] as string},
            ${Math.floor(1 + rand() * 64) * 1_048_576}, ${'00'.repeat(32)}, ${rand() < 0.5 ? 'merkle' : 'sampled'}, ${rand() < 0.3 ? 'gpu' : 'cpu'}, ${duration}, ${status},
            ${status === 'accepted' ? null : status === 'rejected' ? 'RESULT_MISMATCH' : 'LEASE_EXPIRED'}, ${status === 'accepted' ? Math.floor(rand() * 100_000) : 0},
            ${started}, ${started + Math.round(duration)})`);
      }
    });
  } finally {
    ctx.close();
  }
}

/** In-page expression: the element that scrolls the Jobs table (inside it, else around it, else the page). */
const FIND_SCROLLER = `(() => {
  const table = document.querySelector('[aria-label="Job history"]');
  const scrolls = (e) => e.scrollHeight > e.clientHeight + 4 && /auto|scroll/.test(getComputedStyle(e).overflowY);
  const inside = table ? [...table.querySelectorAll('*')].find(scrolls) : undefined;
  if (inside) return inside;
  let el = table;
  while (el && !scrolls(el)) el = el.parentElement;
  return el || document.scrollingElement;
})()`;

interface TableFigures {
  firstRowsMs: number;
  oldestRowMs: number | null;
  domRows: number;
  frames: number[];
  scrolledPx: number;
}

async function bigTable(browser: Browser, n: number, seedValue: number): Promise<TableFigures> {
  const dataDir = tempDir('tessera-bench-rows-');
  await seedJobs(dataDir, n, seedValue);
  const node = await startHeadless(dataDir, { join: false });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await page.goto(node.url, { timeout: 120_000 });
    await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 60_000 });
    const t0 = performance.now();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
    await jobRows(page).first().waitFor({ timeout: 60_000 });
    const firstRowsMs = performance.now() - t0;
    const domRows = await jobRows(page).count();
    // The oldest job (seeded first) is the table's last row once every page is loaded.
    let oldestRowMs: number | null = null;
    // Task ids are shown shortened, with the full id as the cell's title.
    const oldest = page.locator('[title="bench-task-000000"]');
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      if ((await oldest.count()) > 0) {
        oldestRowMs = performance.now() - t0;
        break;
      }
      await page.evaluate(`(${FIND_SCROLLER}).scrollTop = 1e9`);
      await page.waitForTimeout(250);
    }
    // With every page loaded: back to the top, then scroll to the bottom a fixed step per frame, recording frame deltas.
    await page.evaluate(`(${FIND_SCROLLER}).scrollTop = 0`);
    await page.waitForTimeout(500);
    const scroll = (await page.evaluate(`new Promise((resolve) => {
      const el = ${FIND_SCROLLER};
      const deltas = [];
      let last = performance.now();
      let frames = 0;
      const start = el.scrollTop;
      function frame(t) {
        deltas.push(t - last);
        last = t;
        frames++;
        el.scrollTop += 600;
        if (el.scrollTop + el.clientHeight >= el.scrollHeight - 2 || frames >= 1200) resolve({ deltas: deltas.slice(1), px: el.scrollTop - start });
        else requestAnimationFrame(frame);
      }
      requestAnimationFrame(frame);
    })`)) as { deltas: number[]; px: number };
    return { firstRowsMs, oldestRowMs, domRows, frames: scroll.deltas, scrolledPx: scroll.px };
  } finally {
    await page.close();
    await stop(node);
  }
}

// ---------- 4. memory ----------
/** RSS (MiB) of a process and its descendants, from /proc. */
function treeRssMb(pid: number): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // the process ended meanwhile
    }
  }
  let kb = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
    todo.push(...(children.get(p) ?? []));
  }
  return kb / 1024;
}

async function memory(n: number): Promise<{ at: number; rss: number; jobs: number }[]> {
  const node = await startHeadless(tempDir('tessera-bench-mem-'), { join: true });
  const samples: { at: number; rss: number; jobs: number }[] = [];
  try {
    const api = await contractClient(node);
    try {
      const t0 = performance.now();
      const marks = [1, ...Array.from({ length: n - 1 }, (_, i) => i + 2)];
      for (const m of marks) {
        const wait = t0 + m * 60_000 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const s = await api.call('node:status');
        samples.push({ at: m, rss: treeRssMb(node.child.pid as number), jobs: s.jobs_done });
        console.error(`  memory: ${m} min, RSS ${fmt(samples.at(-1)?.rss ?? 0, 1)} MiB, ${s.jobs_done} jobs`);
      }
    } finally {
      api.close();
    }
  } finally {
    await stop(node);
  }
  return samples;
}

// ---------- run ----------
const mb = (b: number) => `${fmt(b / 1024, 1)} KiB`;
console.log(`# bench:ui — ${new Date().toISOString()} — ${machine()}`);
console.log(`seed ${seed} (replay with --seed ${seed}), rows ${rows}, memory over ${minutes} min\n`);

const browser = await chromium.launch({
  executablePath: process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium',
  args: CHROMIUM_ARGS,
});
try {
  const earnings: FirstEarning[] = [];
  for (let i = 0; i < reps; i++) {
    earnings.push(await firstEarningShown(browser));
    const e = earnings.at(-1) as FirstEarning;
    console.error(
      `  first earning on screen: run ${i + 1}: URL ${fmt(e.url, 2)} s, practice ready ${fmt(e.practiceReady ?? NaN, 2)} s, joined ${fmt(e.joined ?? NaN, 2)} s, first job ${fmt(e.firstJob ?? NaN, 2)} s, receipt ${fmt(e.firstReceipt ?? NaN, 2)} s, on screen ${fmt(e.onScreen, 2)} s`,
    );
  }
  console.log(
    `## Launch to the first earning on screen (median of ${reps} runs, fresh data dir each${values['no-gpu'] ? ', --no-gpu' : ''})`,
  );
  console.log('| step | median | runs |\n| --- | --- | --- |');
  for (const [k, label] of [
    ['url', 'URL printed'],
    ['practiceReady', 'practice market ready'],
    ['joined', 'joined (connected)'],
    ['firstJob', 'first job finished'],
    ['firstReceipt', 'first receipt recorded'],
    ['onScreen', 'first earning on the Dashboard'],
  ] as const) {
    const xs = earnings.map((e) => e[k] ?? NaN);
    console.log(`| ${label} | ${fmt(median(xs), 2)} s | ${xs.map((x) => fmt(x, 2)).join(', ')} s |`);
  }
  const only = values['only-first-earning'];

  if (!only) {
    const firsts: { url: number; page: number; row: number }[] = [];
    for (let i = 0; i < reps; i++) {
      firsts.push(await firstJobShown(browser));
      console.error(
        `  first job shown: run ${i + 1}: URL ${fmt(firsts.at(-1)?.url ?? 0, 0)} ms, UI ${fmt(firsts.at(-1)?.page ?? 0, 0)} ms, first job row ${fmt(firsts.at(-1)?.row ?? 0, 0)} ms`,
      );
    }
    console.log('## Start to first job shown (median of', reps, 'runs, fresh data dir each)');
    console.log('| step | median | runs |\n| --- | --- | --- |');
    for (const [k, label] of [
      ['url', 'URL printed'],
      ['page', 'UI shown (nav rendered)'],
      ['row', 'first job row in Jobs'],
    ] as const) {
      console.log(
        `| ${label} | ${fmt(median(firsts.map((f) => f[k])) / 1000, 1)} s | ${firsts.map((f) => fmt(f[k] / 1000, 1)).join(', ')} s |`,
      );
    }
  }

  if (!values['skip-bundle'] && !only) {
    const chunks = shippedChunks();
    console.log('\n## Renderer bundle (out/renderer/assets)');
    console.log('| chunk | raw | gzip |\n| --- | --- | --- |');
    for (const c of chunks) console.log(`| ${c.file} | ${mb(c.raw)} | ${mb(c.gzip)} |`);
    console.log(
      `| total | ${mb(chunks.reduce((a, c) => a + c.raw, 0))} | ${mb(chunks.reduce((a, c) => a + c.gzip, 0))} |`,
    );
    const contents = await bundleContents();
    console.log(
      '\nWhat is in each JS chunk: bytes by source package, from a minified, source-mapped build of the same renderer (vite defaults; electron-vite ships it unminified):',
    );
    for (const c of contents) {
      const top = c.parts.slice(0, 8).map(([k, v]) => `${k} ${fmt((100 * v) / c.total, 1)}%`);
      console.log(
        `- ${c.chunk.replace(/-[A-Za-z0-9_-]{8}\.js$/, '.js')} (minified ${mb(c.total)}, gzip ${mb(c.gzip)}): ${top.join(', ')}`,
      );
    }
  }

  if (!only) {
    const t = await bigTable(browser, rows, seed);
    const sorted = [...t.frames].sort((a, b) => a - b);
    console.log(`\n## Jobs table with ${rows} rows (seed ${seed})`);
    console.log('| measurement | value |\n| --- | --- |');
    console.log(`| click Jobs → first rows shown | ${fmt(t.firstRowsMs, 0)} ms |`);
    console.log(
      `| click Jobs → oldest row reachable (all pages loaded, scrolled to the end) | ${t.oldestRowMs === null ? 'not reached in 60 s' : `${fmt(t.oldestRowMs, 0)} ms`} |`,
    );
    console.log(`| table rows in the DOM at once (virtualised) | ${t.domRows} |`);
    console.log(`| frames while scrolling ${fmt(t.scrolledPx / 1000, 0)}k px at 600 px/frame | ${t.frames.length} |`);
    console.log(
      `| frame time p50 / p95 / max | ${fmt(pct(sorted, 50), 1)} / ${fmt(pct(sorted, 95), 1)} / ${fmt(sorted.at(-1) ?? NaN, 1)} ms |`,
    );
    console.log(`| frames over 50 ms | ${sorted.filter((d) => d > 50).length} |`);
  }

  if (!values['skip-memory'] && !only) {
    const mem = await memory(minutes);
    console.log(`\n## Headless node memory under practice jobs (RSS of the process tree)`);
    console.log('| after | RSS | jobs done |\n| --- | --- | --- |');
    for (const s of mem) console.log(`| ${s.at} min | ${fmt(s.rss, 1)} MiB | ${s.jobs} |`);
    const first = mem[0];
    const last = mem.at(-1);
    if (first && last && last !== first)
      console.log(
        `\nGrowth ${fmt(last.rss - first.rss, 1)} MiB from minute 1 to minute ${last.at} (${fmt((last.rss - first.rss) / (last.at - first.at), 2)} MiB/min).`,
      );
  }
} finally {
  await browser.close();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
