import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { receiptToJson } from '../../src/core/ledger/receipt.js';
import { openLedger } from '../../src/main/ledger.js';
import { MetricsServer } from '../../src/main/services/metrics-server.js';
import { CourierMarket } from '../fixtures/courier-market.js';
import { tempDir } from '../support/temp-dir.js';
import { receipt, signedReceipt, TEST_MARKET, testMarketSigner } from '../main/ledger-fixtures.js';
import { root, tessera } from './run.js';

function metric(text: string, line: string): number | undefined {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  return m === undefined ? undefined : Number(m.slice(line.length + 1));
}

function tesseraAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', `${root}/src/cli/bin.ts`, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('settlement_cluster: the same receipts across restarts and concurrent processes', () => {
  it('applies each receipt exactly once, in balances and in metrics', async () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    const receipts = Array.from({ length: 20 }, (_, i) => signedReceipt(`job-${i}`, BigInt(i + 1)));
    const file = join(dir, 'receipts.jsonl');
    writeFileSync(file, receipts.map((r) => JSON.stringify(receiptToJson(r))).join('\n'));
    expect(tessera(['market-key', 'trust', TEST_MARKET, testMarketSigner.nodeId, '--data-dir', dd]).code).toBe(0);
    expect(tessera(['settlement', 'mode', 'real', '--data-dir', dd]).code).toBe(0);

    // Two processes at once, then two more one after the other (each a restart).
    const [a, b] = await Promise.all([
      tesseraAsync(['settlement', 'apply', file, '--data-dir', dd]),
      tesseraAsync(['settlement', 'apply', file, '--data-dir', dd]),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const appliedNow = [a, b].map((r) => Number(/^(\d+) applied/.exec(r.stdout)?.[1]));
    expect(appliedNow[0]! + appliedNow[1]!).toBe(20);
    for (let i = 0; i < 2; i++) {
      const again = tessera(['settlement', 'apply', file, '--data-dir', dd]);
      expect(again.stdout).toMatch(/^0 applied, 0 recorded \(dry-run\), 20 already known, 0 failed, 0 conflicting/);
    }
    const status = JSON.parse(tessera(['settlement', 'status', '--json', '--data-dir', dd]).stdout) as {
      mode: string;
      balances: { account: string; balance: string }[];
    };
    expect(status.mode).toBe('real');
    expect(status.balances).toEqual([
      { account: `market:${TEST_MARKET}`, balance: '-210' },
      { account: 'provider', balance: '210' },
    ]);
    const metrics = tessera(['metrics', '--data-dir', dd]).stdout;
    expect(metric(metrics, 'settle_applied_total')).toBe(20);
    expect(metric(metrics, 'matches_total{dry_run="false"}')).toBe(20);
    expect(metric(metrics, 'settle_mode_change_total{to="real"}')).toBe(1);
  });
});

describe('tessera courier and settlement commands', () => {
  it('send, list and flush through a market; errors are one line', async () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    const bundle = join(dir, 'bundle.bin');
    writeFileSync(bundle, 'carried bytes');
    expect(tessera(['courier', 'send', bundle, 'alice', '--data-dir', dd]).stdout).toMatch(
      /stored courier receipt [0-9a-f-]{36} \(13 B/,
    );
    const listed = tessera(['courier', 'list', '--pending', '--json', '--data-dir', dd]).stdout.trim().split('\n');
    expect(listed).toHaveLength(1);
    expect(JSON.parse(listed[0] as string)).toMatchObject({ sender: 'alice', status: 'pending', acknowledged: false });

    const bad = tessera(['courier', 'send', join(dir, 'nope'), 'alice', '--data-dir', dd]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^tessera: bundle .*nope: no such file$/);
    expect(tessera(['settlement', 'mode', 'sideways', '--data-dir', dd]).stderr).toMatch(
      /settlement mode must be dry-run, armed or real/,
    );
    expect(tessera(['settlement', 'mode', 'armed', '--data-dir', dd]).stderr).toMatch(/needs --delay SECONDS/);

    const closed = await new CourierMarket().start();
    await closed.close(); // a port nobody listens on any more
    const down = tessera(['courier', 'flush', '--market', closed.url, '--max-attempts', '1', '--data-dir', dd]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/unreachable after 1 attempts: fetch failed \(ECONNREFUSED\); receipts stay pending/);
    expect(
      tessera(['settlement', 'mode', 'armed', '--delay', '10000000000000000000000', '--data-dir', dd]).stderr,
    ).toMatch(/a number from 0 to 315360000/);

    const market = await new CourierMarket({ reward: 4n }).start();
    try {
      const r = await tesseraAsync(['courier', 'flush', '--market', market.url, '--data-dir', dd]);
      expect(r.stdout).toMatch(
        /1 accepted, 0 already known, 0 rejected, 4 credits earned \(4 pending until settlement is real\); 0 not answered, 0 held back \(0 now failed\); 0 still pending/,
      );
      expect(market.accepted.size).toBe(1);
    } finally {
      await market.close();
    }
  });

  it('a damaged ledger file stops every command with the path, and is left as it was', () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    expect(tessera(['settlement', 'mode', 'dry-run', '--data-dir', dd]).code).toBe(0); // status is read-only and creates nothing
    writeFileSync(join(dd, 'ledger.db'), 'this is not sqlite'.repeat(300));
    const r = tessera(['settlement', 'status', '--data-dir', dd]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ledger\.db is damaged or is not a Tessera database/);
  });

  it('a bad config.toml value names the key and the file, and nothing starts', () => {
    const dir = tempDir();
    const dd = join(dir, 'node');
    expect(tessera(['settlement', 'mode', 'dry-run', '--data-dir', dd]).code).toBe(0); // status is read-only and creates nothing
    writeFileSync(join(dd, 'config.toml'), 'courier_max_attempts = 0\n');
    const r = tessera(['courier', 'list', '--data-dir', dd]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config\.toml: courier_max_attempts must be an integer from 1 to 100 \(got 0\)/);
  });
});

describe('first start', () => {
  it('several processes opening a new data dir at once all succeed (migrations run once)', async () => {
    for (let round = 0; round < 3; round++) {
      const dd = join(tempDir(), 'node');
      // The claim is that concurrent first opens all succeed, not how fast: on a loaded machine the
      // first process's migrations can outlast the default 5 s wait, so the others wait longer here.
      const runs = await Promise.all(
        [0, 1, 2].map(() =>
          tesseraAsync(['settlement', 'mode', 'dry-run', '--data-dir', dd], { TESSERA_DB_BUSY_TIMEOUT_MS: '60000' }),
        ),
      );
      expect(runs.map((r) => [r.code, r.stderr])).toEqual([
        [0, ''],
        [0, ''],
        [0, ''],
      ]);
    }
  });
});

describe('metrics endpoint', () => {
  it('serves the node registry on 127.0.0.1 /metrics and `tessera metrics --url` prints it', async () => {
    const dir = tempDir();
    const ctx = await openLedger({ dataDir: join(dir, 'node') });
    ctx.settlement.fund('buyer', 5n);
    ctx.settlement.setMode('real');
    ctx.settlement.apply(receipt('m1', 5n));
    const server = await MetricsServer.start(ctx.registry);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const text = await (await fetch(server.url)).text();
      expect(metric(text, 'settle_applied_total')).toBe(1);
      expect(text).toMatch(/# TYPE courier_flush_attempt_total counter/);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
      const printed = await tesseraAsync(['metrics', '--url', server.url]);
      expect(metric(printed.stdout, 'settle_applied_total')).toBe(1);
    } finally {
      await server.close();
      ctx.close();
    }
  });
});
