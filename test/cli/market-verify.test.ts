import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { verifyConfigOf } from '../../src/cli/commands/market.js';
import { main } from '../../src/cli/index.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';
import { tempDir } from '../support/temp-dir.js';
import { root, tessera, tsxLoader } from './run.js';

const SEED = 0x5e1;
console.log(`market verify cli test seed ${SEED}`);

describe('tessera market --verify-mode / --verify-fraction / --standbys', () => {
  it('are shown in --help with the modes and defaults', () => {
    const r = tessera(['market', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /--verify-mode MODE\s+how checked jobs are verified: reexecute \| second_provider \| both \(default reexecute/,
    );
    expect(r.stdout).toMatch(
      /--verify-fraction F\s+the least fraction of a provider's jobs checked, from 0 to 1; new providers are checked more \(default 0\.1;/,
    );
    expect(r.stdout).toMatch(/--standbys N\s+standby providers named per job, 0 to 8: .*\(default 0;/);
  });

  it('a bad value exits 2 with one line naming the flag, before anything is opened', async () => {
    const dir = tempDir('tessera-market-verify-');
    // From a real process once, then in-process (same code path: main()).
    const r = tessera(['market', '--data-dir', join(dir, 'm'), '--verify-mode', 'fast']);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      '',
      'tessera: --verify-mode must be one of reexecute, second_provider, both, got "fast"\n',
    ]);
    for (const [args, message] of [
      [
        ['--verify-mode', 'fast'],
        /^tessera: --verify-mode must be one of reexecute, second_provider, both, got "fast"\n$/,
      ],
      [['--verify-mode', 'Both'], /--verify-mode must be one of/],
      [
        ['--verify-fraction', '1.5'],
        /^tessera: --verify-fraction must be a number from 0 to 1 \(e\.g\. 0\.1\), got "1\.5"\n$/,
      ],
      [['--verify-fraction=-0.1'], /--verify-fraction must be a number from 0 to 1/],
      [['--verify-fraction', 'half'], /--verify-fraction must be a number from 0 to 1/],
      [['--verify-fraction', '1e-1'], /--verify-fraction must be a number from 0 to 1/],
      [['--standbys', '9'], /^tessera: --standbys must be a whole number from 0 to 8, got "9"\n$/],
      [['--standbys', '-1'], /--standbys must be a whole number from 0 to 8/],
      [['--standbys', 'one'], /--standbys must be a whole number from 0 to 8/],
      [
        ['--public-url', 'market-2:8080'],
        /^tessera: --public-url must be an http:\/\/ or https:\/\/ URL of this instance .*, got "market-2:8080"\n$/,
      ],
      [['--public-url', 'ftp://market-2'], /--public-url must be an http:\/\/ or https:\/\/ URL/],
      [['--public-url', 'http://market-2/?x=1'], /--public-url must be an http:\/\/ or https:\/\/ URL/],
    ] as const) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['market', '--data-dir', join(dir, 'm'), '--port', '1', ...args], {
        stdout: (t) => void out.push(t),
        stderr: (t) => void err.push(t),
        stdin: new PassThrough(),
        isTty: false,
      });
      expect([code, out.join('')], args.join(' ')).toEqual([2, '']);
      expect(err.join(''), args.join(' ')).toMatch(message);
    }
    expect(existsSync(join(dir, 'm')), 'nothing opened').toBe(false);
    // Parsed values (the unit under the flags).
    expect(verifyConfigOf(undefined, undefined)).toEqual({ verifyMode: 'reexecute', checkFraction: 0.1 });
    expect(verifyConfigOf('both', '0.25')).toEqual({ verifyMode: 'both', checkFraction: 0.25 });
    expect(verifyConfigOf('second_provider', '1')).toEqual({ verifyMode: 'second_provider', checkFraction: 1 });
    expect(verifyConfigOf(undefined, '0')).toEqual({ verifyMode: 'reexecute', checkFraction: 0 });
  });

  it('take effect: with second_provider and fraction 1 every job of the running market is also run by a second provider', async () => {
    const dir = tempDir('tessera-market-verify-');
    const data = join(dir, 'm');
    const added = tessera(['market', 'customer', 'add', 'alice', '--data-dir', data]);
    expect(added.code, added.stderr).toBe(0);
    const key = added.stdout.trim().split('\n').pop() as string;
    expect(tessera(['market', 'fund', 'alice', '100.0', '--data-dir', data]).code).toBe(0);
    const port = 20_000 + ((SEED * 7919 + process.pid) % 20_000);
    console.log(`market verify cli port ${port}`);
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsxLoader,
        `${root}/src/cli/bin.ts`,
        'market',
        '--port',
        String(port),
        '--data-dir',
        data,
        '--verify-mode',
        'second_provider',
        '--verify-fraction',
        '1',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const providers: RawProvider[] = [];
    try {
      await until(
        'market listening',
        () => out,
        (o) => o.includes('market listening on') && o.includes('verify mode'),
        60_000,
      );
      expect(out).toContain('verify mode second_provider, 100% of jobs checked\n');
      const base = `http://127.0.0.1:${port}`;
      const blake3 = await loadBlake3();
      const first = new RawProvider(base, blake3, seedFrom(SEED));
      providers.push(first);
      await first.join({ max_jobs: 10 });
      const tasks: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${base}/tasks`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            challenge_type: 'inference',
            payload: { model_id: 'm', prompt: `p${i}`, max_tokens: 1 },
            reward: '1.0',
          }),
        });
        expect(res.status).toBe(201);
        tasks.push(((await res.json()) as { task_id: string }).task_id);
      }
      // One run of each one-slice task; its twin may not go to the same provider.
      const a = await first.waitFor('a job per task', () => (first.jobs().length >= 3 ? first.jobs() : undefined));
      const second = new RawProvider(base, blake3, seedFrom(SEED + 1));
      providers.push(second);
      await second.join({ max_jobs: 10 });
      const b = await second.waitFor('the twins', () => (second.jobs().length >= 3 ? second.jobs() : undefined));
      // All six runs are out now, so nothing more can come: `first`, with room for ten, got none of the twins.
      expect(first.jobs()).toHaveLength(3);
      expect(new Set(b.map((j) => j.task_id))).toEqual(new Set(tasks));
      expect(new Set(a.map((j) => j.task_id))).toEqual(new Set(tasks));
      expect(b.map((j) => j.job_id).filter((id) => a.some((x) => x.job_id === id))).toEqual([]);
      for (const p of providers.splice(0)) p.close();
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      for (const p of providers) p.close();
      child.kill('SIGKILL');
    }
  }, 240_000);
});
