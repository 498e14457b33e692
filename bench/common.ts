import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const benchDir = join(root, '.bench');
mkdirSync(benchDir, { recursive: true });

/** Builds the CLI bundle when it is missing, so benches time the shipped code. */
export function ensureCliBuilt(): string {
  const cli = join(root, 'out/cli/tessera.js');
  if (!existsSync(cli))
    execFileSync(process.execPath, [join(root, 'scripts/build-cli.mjs')], { stdio: 'inherit', cwd: root });
  return cli;
}

/** Median wall time in ms of running a command `reps` times (after one warm-up run). */
export function timeCommand(cmd: string, args: string[], reps = 5): number {
  const run = () => {
    const t = performance.now();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed: ${r.stderr}`);
    return performance.now() - t;
  };
  run();
  const times = Array.from({ length: reps }, run).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** Peak RSS (MB) of a child command, read from the kernel's rusage for waited children. */
export function peakRssMb(cmd: string, args: string[]): number {
  const py =
    'import resource,subprocess,sys\nr=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode==0 else -1)';
  const out = execFileSync('python3', ['-c', py, cmd, ...args], { encoding: 'utf8' }).trim();
  return Number(out) / 1024;
}

export function machine(): string {
  return `${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}`;
}

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}
