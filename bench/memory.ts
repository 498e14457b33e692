/**
 * `npm run bench:memory` — memory of `tessera headless` (the BUILT CLI: `npm run build` first),
 * against the targets in docs/PERFORMANCE.md ("Memory and the first minute"): ≤ 200 MB RSS
 * steady and ≤ 250 MB peak with the practice market, ≤ 120 MB joined to a remote market.
 *
 * Each run starts the headless node with a fresh temp data dir (`--no-gpu`) and samples its
 * /proc/PID/status (VmRSS, VmHWM) every --interval-ms until the first paid job (the node's first
 * `earnings:changed` event above zero) and for --steady-s seconds after it. Steady is the median
 * VmRSS over that window, peak the process's VmHWM at its end. Runs:
 *   1. practice: the in-process practice market (this build);
 *   2. remote: joined to `tessera market` in another process (customer and tasks set up through
 *      the CLI and POST /tasks, one small task every 2 s) — only the headless process is counted;
 *   3. reference: the practice run again with the CLI built from --reference (default: the
 *      commit before the practice market's light store), in the same run, for comparison.
 * Flags: --steady-s N (default 60), --interval-ms N (default 100), --reference REF,
 * --skip-remote, --skip-reference.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NodeStatusInfo } from '../src/shared/contract.js';
import { contractClient, freePort, HEADLESS_URL } from '../test/e2e/tessera-process.js';
import { fmt, machine, root } from './common.js';

const { values } = parseArgs({
  options: {
    'steady-s': { type: 'string', default: '60' },
    'interval-ms': { type: 'string', default: '100' },
    reference: { type: 'string' },
    'skip-remote': { type: 'boolean', default: false },
    'skip-reference': { type: 'boolean', default: false },
  },
});
const steadyS = Number(values['steady-s']);
const intervalMs = Number(values['interval-ms']);
if (!(steadyS >= 1) || !(intervalMs >= 10)) {
  console.error('bench:memory: --steady-s (≥ 1) and --interval-ms (≥ 10) must be numbers');
  process.exit(2);
}
for (const f of ['out/cli/tessera.js', 'out/renderer/index.html', 'out/practice-store.tar.gz']) {
  if (!existsSync(join(root, f))) {
    console.error(`bench:memory: ${f} is missing; run \`npm run build\` first`);
    process.exit(2);
  }
}

const TARGETS = { practiceSteady: 200, practicePeak: 250, remoteSteady: 120 };
const tempDirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
};

/** VmRSS and VmHWM (MiB) of one process; null once it is gone. */
function procMem(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Child processes of `pid` (the headless node should have none: its workers are threads). */
function childCount(pid: number): number {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) n++;
    } catch {
      // ended meanwhile
    }
  }
  return n;
}

interface Run {
  name: string;
  urlS: number;
  joinedS: number | null;
  firstPaidS: number;
  steady: number;
  steadyMax: number;
  peak: number;
  children: number;
  samples: number;
}

function spawnLogged(cmd: string, args: string[], cwd = root): { child: ChildProcess; out: () => string } {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, TESSERA_MARKET_URL: '', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.resume();
  return { child, out: () => out };
}

function waitForLine(
  p: { child: ChildProcess; out: () => string },
  re: RegExp,
  ms = 180_000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms`)), ms);
    const check = () => {
      const m = p.out().match(re);
      if (!m) return;
      clearTimeout(timer);
      p.child.stdout?.off('data', check);
      resolve(m);
    };
    p.child.stdout?.on('data', check);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${re}`));
    });
    check();
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `cli headless` on a fresh data dir, samples its memory until the first paid job and `steadyS` after. */
async function measure(name: string, cli: string, extraArgs: string[]): Promise<Run> {
  const dataDir = tempDir('tessera-bench-mem-');
  const t0 = performance.now();
  const p = spawnLogged(process.execPath, [
    cli,
    'headless',
    '--port',
    '0',
    '--no-gpu',
    '--data-dir',
    dataDir,
    ...extraArgs,
  ]);
  const pid = p.child.pid as number;
  const samples: { t: number; rss: number; hwm: number }[] = [];
  const sampler = setInterval(() => {
    const m = procMem(pid);
    if (m) samples.push({ t: performance.now() - t0, ...m });
  }, intervalMs);
  try {
    const url = (await waitForLine(p, HEADLESS_URL))[1] as string;
    const urlS = (performance.now() - t0) / 1000;
    const u = new URL(url);
    const api = await contractClient({ origin: u.origin, token: u.searchParams.get('token') ?? '' });
    let joinedS: number | null = null;
    const firstPaid = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no paid job within 300 s`)), 300_000);
      api.on('earnings:changed', (e) => {
        if (BigInt(e.credits_today) === 0n) return;
        clearTimeout(timer);
        resolve((performance.now() - t0) / 1000);
      });
    });
    const onStatus = (s: NodeStatusInfo) => {
      if (joinedS === null && s.joined && s.state === 'connected') joinedS = (performance.now() - t0) / 1000;
    };
    api.on('node:status', onStatus);
    onStatus(await api.call('node:status'));
    const firstPaidS = await firstPaid;
    console.error(
      `  ${name}: URL ${fmt(urlS, 2)} s, first paid job ${fmt(firstPaidS, 2)} s; steady window ${steadyS} s…`,
    );
    await new Promise((r) => setTimeout(r, steadyS * 1000));
    const children = childCount(pid);
    api.close();
    const window = samples.filter((s) => s.t >= firstPaidS * 1000).map((s) => s.rss);
    window.sort((a, b) => a - b);
    return {
      name,
      urlS,
      joinedS,
      firstPaidS,
      steady: window[Math.floor(window.length / 2)] ?? NaN,
      steadyMax: window.at(-1) ?? NaN,
      peak: Math.max(...samples.map((s) => s.hwm)),
      children,
      samples: samples.length,
    };
  } finally {
    clearInterval(sampler);
    await stopChild(p.child);
  }
}

/** `tessera market` in its own process with a funded customer posting one small task every 2 s. */
async function startRemoteMarket(cli: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = tempDir('tessera-bench-market-');
  const run = (args: string[]) => execFileSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  const key = run(['market', 'customer', 'add', 'bench', '--data-dir', dir]).trim().split('\n').at(-1) as string;
  run(['market', 'fund', 'bench', '100000', '--data-dir', dir]);
  const port = await freePort();
  const p = spawnLogged(process.execPath, [cli, 'market', '--data-dir', dir, '--port', String(port)]);
  const url = (await waitForLine(p, /market listening on (http:\/\/\S+)/))[1] as string;
  const post = () =>
    fetch(`${url}/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        challenge_type: 'synthetic',
        payload: { matrix_size: 32, iterations: 1 },
        reward: '0.05',
      }),
    }).then(
      (r) => void r.body?.cancel(),
      (err: unknown) => console.error(`  remote market: POST /tasks failed: ${String(err)}`),
    );
  await post();
  const timer = setInterval(() => void post(), 2000);
  return {
    url,
    stop: async () => {
      clearInterval(timer);
      await stopChild(p.child);
    },
  };
}

/** Builds the CLI of `ref` (git archive of src/ and scripts/, and its practice store image if it has one) beside a link to this tree's node_modules and renderer. */
function buildReference(ref: string): string {
  const dir = tempDir('tessera-bench-ref-');
  const tar = execFileSync('git', ['archive', ref, 'src', 'scripts', 'package.json'], {
    cwd: root,
    maxBuffer: 1 << 28,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'out'), { recursive: true });
  symlinkSync(join(root, 'out/renderer'), join(dir, 'out/renderer'));
  execFileSync(process.execPath, ['scripts/build-cli.mjs'], { cwd: dir, stdio: 'ignore' });
  // A reference that has a practice store image gets one built, as `npm run build` would.
  if (existsSync(join(dir, 'scripts/build-practice-store.mjs')))
    execFileSync(process.execPath, ['scripts/build-practice-store.mjs'], { cwd: dir, stdio: 'ignore' });
  return join(dir, 'out/cli/tessera.js');
}

/** The commit before the practice store image was added (the old practice market configuration). */
function defaultReference(): string {
  const added = execFileSync(
    'git',
    ['log', '--diff-filter=A', '--format=%H', '--', 'scripts/build-practice-store.mjs'],
    { cwd: root, encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .at(-1);
  if (!added)
    throw new Error('cannot find the commit that added scripts/build-practice-store.mjs; pass --reference REF');
  return `${added}~1`;
}

const mark = (v: number, target: number) => `${fmt(v, 1)} MiB ${v <= target ? '✓' : '✗'} (≤ ${target})`;

console.log(`# bench:memory — ${new Date().toISOString()} — ${machine()}`);
console.log(`load average at start: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
console.log(`steady window ${steadyS} s after the first paid job, sampled every ${intervalMs} ms; --no-gpu\n`);
const cli = join(root, 'out/cli/tessera.js');
const runs: Run[] = [];
try {
  runs.push(await measure('practice (this build)', cli, []));
  if (!values['skip-remote']) {
    const market = await startRemoteMarket(cli);
    try {
      runs.push(await measure('remote market (this build)', cli, ['--market', market.url]));
    } finally {
      await market.stop();
    }
  }
  if (!values['skip-reference']) {
    const ref = values.reference ?? defaultReference();
    const short = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
    console.error(`  building the reference CLI at ${ref} (${short})…`);
    runs.push(await measure(`practice (reference ${short})`, buildReference(ref), []));
  }
} finally {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}

console.log(
  '| run | URL printed | connected | first paid job | steady RSS (median) | steady max | peak (VmHWM) | child processes |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of runs)
  console.log(
    `| ${r.name} | ${fmt(r.urlS, 2)} s | ${r.joinedS === null ? '–' : `${fmt(r.joinedS, 2)} s`} | ${fmt(r.firstPaidS, 2)} s | ${fmt(r.steady, 1)} MiB | ${fmt(r.steadyMax, 1)} MiB | ${fmt(r.peak, 1)} MiB | ${r.children} |`,
  );
console.log('\nAgainst the targets:');
const practice = runs.find((r) => r.name.startsWith('practice (this'));
const remote = runs.find((r) => r.name.startsWith('remote'));
const reference = runs.find((r) => r.name.includes('reference'));
if (practice) {
  console.log(`- practice market, steady: ${mark(practice.steady, TARGETS.practiceSteady)}`);
  console.log(`- practice market, peak: ${mark(practice.peak, TARGETS.practicePeak)}`);
}
if (remote) console.log(`- remote market, steady: ${mark(remote.steady, TARGETS.remoteSteady)}`);
if (practice && reference)
  console.log(
    `- against the reference: steady ${fmt(practice.steady - reference.steady, 1)} MiB (${fmt((100 * practice.steady) / reference.steady, 0)}%), peak ${fmt(practice.peak - reference.peak, 1)} MiB (${fmt((100 * practice.peak) / reference.peak, 0)}%), first paid job ${fmt(practice.firstPaidS - reference.firstPaidS, 2)} s`,
  );
