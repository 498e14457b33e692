import { spawn } from 'node:child_process';
import type { EarningsReport } from '../../src/cli/commands/earnings-report.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import { root, tessera, tsxLoader } from '../cli/run.js';
import { tempDir } from '../support/temp-dir.js';
import { getTask, postTask, startMarket } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { until } from '../support/wait.js';

/** The CLI without blocking this process: `tessera earnings` asks the market this test serves. */
function tesseraAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsxLoader, `${root}/src/cli/bin.ts`, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tessera provide / earnings / practice', () => {
  it('provide joins a market and earns; earnings --json reports what the market paid, and the market balance endpoint agrees', async () => {
    const dir = tempDir('tessera-provide-cli-');
    const m = await startMarket(join(dir, 'market'), { checkFraction: 1 }, { digestThreads: 1 });
    const nodeDir = join(dir, 'node');
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsxLoader,
        `${root}/src/cli/bin.ts`,
        'provide',
        '--market',
        m.base,
        '--data-dir',
        nodeDir,
        '--threads',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(
        'provider connected',
        () => out,
        (o) => o.includes('"state":"connected"'),
        30_000,
      );
      const id = (
        await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'cli', max_tokens: 1 },
          reward: '2.0',
        })
      ).json.task_id as string;
      await until(
        'task completed',
        () => getTask(m, id),
        (t) => t.status === 'completed',
        30_000,
      );
      await until(
        'credited',
        () => out,
        (o) => o.includes('"creditsToday":"500000"'),
        10_000,
      );
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      const e = await tesseraAsync(['earnings', '--json', '--market-url', m.base, '--data-dir', nodeDir]);
      expect(e.code).toBe(0);
      const json = JSON.parse(e.stdout) as EarningsReport;
      const worker = (out.match(/"address":"(cpc1[0-9a-z]+)"/) as RegExpMatchArray)[1] as string;
      const atMarket = (await m.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.worker(worker)))).toString();
      expect(json.summary.headline).toMatchObject({
        paid: atMarket,
        receipts: 1,
        settled: '0',
        awaiting_settlement: atMarket,
      });
      expect(json.summary.days.at(-1)).toEqual({
        day: new Date().toISOString().slice(0, 10),
        receipts: 1,
        paid: '500000',
        settled: '0',
      });
      // The market's balance endpoint agrees with the receipts.
      expect(json.reconciliation).toMatchObject({
        status: 'matched',
        market_balance: atMarket,
        receipts_total: atMarket,
      });
      const text = (await tesseraAsync(['earnings', '--market-url', m.base, '--data-dir', nodeDir])).stdout;
      expect(text).toMatch(/: 0\.5 CPC \(1 paid jobs, all time\)/);
      expect(text).toMatch(/market check: The market's balance for this node \(0\.5 CPC\) matches/);
      expect(tessera(['earnings', '--days', '0', '--data-dir', nodeDir])).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/--days must be an integer from 1/),
      });
      expect(tessera(['provide'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/needs --market URL/) });
    } finally {
      child.kill('SIGKILL');
      await m.close();
    }
  });

  it('tessera market serves the provider socket and /batches beside the task API', async () => {
    const dir = tempDir('tessera-market-cli-');
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    console.log(`market cli port ${port}`);
    const child = spawn(
      process.execPath,
      ['--import', tsxLoader, `${root}/src/cli/bin.ts`, 'market', '--port', String(port), '--data-dir', join(dir, 'm')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await until(
        'market listening',
        () => out,
        (o) => o.includes('market listening on'),
        60_000,
      );
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/batches/1`)).status).toBe(404);
      const { loadBlake3 } = await import('../../src/node/hash/node-hasher.js');
      const p = new RawProvider(base, await loadBlake3(), seedFrom(7));
      await p.join();
      expect(p.frames.find((f) => f.type === 'challenge')).toMatchObject({ practice: false });
      p.close();
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('practice runs a labelled local market, a practice customer and a provider; earnings appear within seconds', async () => {
    const dir = tempDir('tessera-practice-');
    const d = join(dir, 'p');
    const child = spawn(
      process.execPath,
      ['--import', tsxLoader, `${root}/src/cli/bin.ts`, 'practice', '--data-dir', d],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    try {
      await until(
        'practice earning',
        () => out,
        (o) => /"jobsDone":[1-9]/.test(o) && /"creditsToday":"[1-9]/.test(o),
        60_000,
      );
      expect(err).toMatch(/PRACTICE MARKET \(local, not real credits\) on http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/"practice":true/);
      const e = tessera(['earnings', '--json', '--data-dir', d]);
      expect(e.code).toBe(0);
      const report = JSON.parse(e.stdout) as EarningsReport;
      expect(report.summary.practice).toBe(true);
      expect(BigInt(report.summary.headline.paid)).toBeGreaterThan(0n);
      expect(tessera(['earnings', '--data-dir', d]).stdout).toMatch(/practice credits, not money/);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
