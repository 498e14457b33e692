import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeDawn } from '../main/gpu/dawn-probe.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';
import { root, tessera } from './run.js';

describe('tessera hash', () => {
  it('prints exactly what b3sum prints, for files and stdin', () => {
    const dir = tempDir();
    const files = [0, 1, 1024, 1025, 70_000, 3 << 20].map((len, i) => {
      const p = join(dir, `in ${i}.bin`);
      writeFileSync(p, pseudoRandomBytes(len, i + 11));
      return p;
    });
    const ours = tessera(['hash', '--threads', '2', ...files]);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(execFileSync('b3sum', files, { encoding: 'utf8' }));

    const stdin = Buffer.from(pseudoRandomBytes(5000, 3));
    const fromStdin = tessera(['hash', '-'], { input: stdin });
    expect(fromStdin.stdout).toBe(execFileSync('b3sum', ['-'], { input: stdin, encoding: 'utf8' }));
  });

  it('rejects a missing file, a directory and a bad --threads with one line and exit 2', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    for (const [args, pattern] of [
      [['hash', join(dir, 'missing.bin')], /missing\.bin: no such file/],
      [['hash', join(dir, 'sub')], /is a directory/],
      [['hash', '--threads', 'lots', 'x'], /--threads must be an integer/],
      [['hash', '--frobnicate'], /unknown option '--frobnicate'/],
    ] as const) {
      const r = tessera([...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  });

  it('escapes names with a backslash or newline exactly like b3sum, and refuses a directory on stdin', () => {
    const dir = tempDir();
    const odd = [join(dir, 'new\nline.bin'), join(dir, 'back\\slash.bin'), join(dir, 'plain.bin')];
    odd.forEach((p, i) => writeFileSync(p, pseudoRandomBytes(100 + i, i)));
    const ours = tessera(['hash', ...odd]);
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(execFileSync('b3sum', odd, { encoding: 'utf8' }));
    const fromDir = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'hash', '-'], {
      stdio: [openSync(dir, 'r'), 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    expect(fromDir.status).toBe(2);
    expect(fromDir.stderr).toBe('tessera: -: standard input is a directory\n');
  });

  it('reports a file that cannot be read (I/O error) by name, in one line', () => {
    const r = tessera(['hash', '/proc/self/mem']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tessera: \/proc\/self\/mem: /);
  });

  // The permission-denied path (run as an unprivileged user even under root) is in cli.test.ts.
});

describe('tessera run-workload', () => {
  let dawn: Awaited<ReturnType<typeof probeDawn>> = { ok: false, reason: 'not probed' };
  beforeAll(async () => {
    dawn = await probeDawn(['native', 'opengles']);
  });

  it('prints the proof hash of the example slice, equal to b3sum', () => {
    const slice = join(root, 'examples/workloads/transcode.slice');
    const r = tessera(['run-workload', slice]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(execFileSync('b3sum', ['--no-names', slice], { encoding: 'utf8' }).trim());
  });

  it('prints the SliceProof with --json for each workload', () => {
    const slice = join(root, 'examples/workloads/inference.slice');
    for (const [workload, backend] of [
      ['transcode', 'cpu'],
      ['inference', 'cpu'],
      ['gpuhash', 'cpu'],
      ['gpuhash', 'gpu'],
    ] as const) {
      // `--gpu software` lets a software adapter (llvmpipe here) take GpuHash; `auto` would not.
      const r = tessera([
        'run-workload',
        slice,
        '--workload',
        workload,
        '--json',
        '--gpu',
        backend === 'gpu' ? 'software' : 'off',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const proof = JSON.parse(r.stdout) as Record<string, unknown>;
      // Where Dawn finds no adapter at all, GpuHash falls back to the CPU with the same proof.
      expect(proof).toMatchObject({
        slice_id: 'inference.slice',
        workload,
        bytes: 65536,
        backend: backend === 'gpu' && !dawn.ok ? 'cpu' : backend,
      });
      expect(proof.proof_hash).toBe(execFileSync('b3sum', ['--no-names', slice], { encoding: 'utf8' }).trim());
    }
    const syn = tessera([
      'run-workload',
      slice,
      '--workload',
      'synthetic',
      '--matrix-size',
      '32',
      '--block-hash',
      'ab'.repeat(32),
      '--worker',
      'w1',
      '--json',
    ]);
    expect(syn.code).toBe(0);
    expect(JSON.parse(syn.stdout)).toMatchObject({ workload: 'synthetic', bytes: 32 * 32 * 4 });
  });

  it('refuses a gpu_required job on a node without a GPU', () => {
    const r = tessera([
      'run-workload',
      join(root, 'examples/workloads/gpuhash.slice'),
      '--workload',
      'gpuhash',
      '--gpu-required',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/requires a hardware GPU/);
  });

  it('rejects bad input with one line on stderr and exit 2', () => {
    const dir = tempDir();
    for (const [args, pattern] of [
      [['run-workload', join(dir, 'nope.slice')], /nope\.slice: no such file/],
      [['run-workload', dir], /is a directory/],
      [['run-workload', 'examples/workloads/transcode.slice', '--workload', 'mining'], /unknown workload "mining"/],
      [['run-workload', 'examples/workloads/transcode.slice', '--turbo'], /unknown option '--turbo'/],
      [['run-workload'], /tessera run-workload needs <file\.slice> \(got 0 arguments\)/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ] as const) {
      const r = tessera([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });
});

describe('generate-slice', () => {
  it('writes the same bytes for the same size and seed', () => {
    const dir = tempDir();
    const run = (out: string, seed: string) =>
      spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'examples/workloads/generate-slice.ts'),
          '--size',
          '100KiB',
          '--seed',
          seed,
          out,
        ],
        { encoding: 'utf8' },
      );
    expect(run(join(dir, 'a.slice'), '42').status).toBe(0);
    expect(run(join(dir, 'b.slice'), '42').status).toBe(0);
    expect(run(join(dir, 'c.slice'), '43').status).toBe(0);
    const [a, b, c] = execFileSync('b3sum', ['--no-names', 'a.slice', 'b.slice', 'c.slice'], {
      cwd: dir,
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    const bad = run(join(dir, 'd.slice'), 'x');
    expect(bad.status).toBe(0);
    const badSize = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples/workloads/generate-slice.ts'), '--size', 'huge', join(dir, 'e.slice')],
      { encoding: 'utf8' },
    );
    expect(badSize.status).toBe(2);
    expect(badSize.stderr).toMatch(/--size "huge" is not a size/);
  });
});
