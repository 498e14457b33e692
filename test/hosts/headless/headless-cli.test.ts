import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sql } from '../../../src/main/db/sql.js';
import { openLedger } from '../../../src/main/ledger.js';
import type { JobRow } from '../../../src/shared/contract.js';
import { WsContractClient } from '../../../src/shared/ws-contract-client.js';
import { root, tessera, tsxLoader } from '../../cli/run.js';
import { tempDir } from '../../support/temp-dir.js';

const URL_RE = /(http:\/\/[^\s]+\/\?token=[0-9a-f]{64})/;
const built = existsSync(join(root, 'out/renderer/index.html'));

describe('tessera headless (CLI)', () => {
  it('--help describes the command and its flags', () => {
    const r = tessera(['headless', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: tessera headless \[options\]/);
    for (const flag of ['--port P', '--host H', '--data-dir DIR', '--market URL', '--no-join'])
      expect(r.stdout).toContain(flag);
    expect(r.stderr).toBe('');
  });

  it('a bad --port is one line on stderr and exit 2', () => {
    for (const port of ['70000', 'abc', '-1', '']) {
      const r = tessera(['headless', '--port', port, '--data-dir', join(tempDir('tessera-hlcli-'), 'd')]);
      expect(r.code, port).toBe(2);
      expect(r.stdout, port).toBe('');
      expect(r.stderr.trim().split('\n'), port).toHaveLength(1);
      expect(r.stderr, port).toMatch(/^tessera: --port /);
    }
  });

  it('a bad --market URL is one line and exit 2', () => {
    const r = tessera([
      'headless',
      '--port',
      '0',
      '--no-gpu',
      '--market',
      'not a url',
      '--data-dir',
      join(tempDir('tessera-hlcli-'), 'd'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `tessera: --market "not a url" is not a URL; give the market's address, e.g. http://127.0.0.1:8080`,
    );
  });

  it.skipIf(!built)(
    'prints the URL, runs a practice job seen on the socket, and on SIGTERM exits 0 with the ledger closed (needs npm run build: out/renderer)',
    async () => {
      const dir = join(tempDir('tessera-hlcli-'), 'node');
      const t0 = Date.now();
      const p = spawn(
        process.execPath,
        ['--import', tsxLoader, join(root, 'src/cli/bin.ts'), 'headless', '--port', '0', '--no-gpu', '--data-dir', dir],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no URL on stdout within 60 s; stderr: ${stderr.slice(-2000)}`)),
            60_000,
          );
          p.stdout.on('data', () => {
            const m = URL_RE.exec(stdout);
            if (m) {
              clearTimeout(timer);
              resolve(m[1] as string);
            }
          });
          void exited.then((code) =>
            reject(new Error(`exited ${code} before printing the URL; stderr: ${stderr.slice(-2000)}`)),
          );
        });
        const tUrl = Date.now() - t0;
        expect(stdout).toMatch(/^Tessera is running: http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}\n$/);
        const { origin, searchParams } = new URL(url);
        const ws = new WebSocket(`${origin.replace('http:', 'ws:')}/api?token=${searchParams.get('token') ?? ''}`, {
          headers: { origin },
        });
        const client = new WsContractClient(ws as unknown as ConstructorParameters<typeof WsContractClient>[0]);
        const row = await new Promise<JobRow>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no job:finished within 90 s; stderr: ${stderr.slice(-2000)}`)),
            90_000,
          );
          client.on('job:finished', (r) => {
            clearTimeout(timer);
            resolve(r);
          });
        });
        const tJob = Date.now() - t0;
        console.log(
          `tessera headless: URL printed after ${tUrl} ms; first job:finished on the socket after ${tJob} ms (from process start)`,
        );
        expect(row.status).toBe('accepted');
        client.close();
      } finally {
        p.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(stderr).toContain('stopped\n');
      // Closed cleanly: SQLite folded the WAL back and removed it, and the ledger opens again (no lock, no damage).
      expect(existsSync(join(dir, 'ledger.db-wal'))).toBe(false);
      const ledger = await openLedger({ dataDir: dir, readonly: true });
      try {
        expect(
          Number(
            ledger.db.get<{ n: number | bigint }>(
              sql`SELECT count(*) AS n FROM provider_jobs WHERE status = 'accepted'`,
            )?.n ?? 0,
          ),
        ).toBeGreaterThan(0);
      } finally {
        ledger.close();
      }
    },
    180_000,
  );
});
