import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startProvider } from '../../src/cli/commands/provide.js';
import { startAppHost, type AppHostOptions } from '../../src/hosts/app-host.js';
import { startHeadless } from '../../src/hosts/headless/headless-server.js';
import { automaticThreads } from '../../src/hosts/provider-node.js';
import { LogBuffer } from '../../src/main/api/log-buffer.js';
import { MemorySettingsStore } from '../../src/main/api/settings-store.js';
import { fromHex } from '../../src/core/hex.js';
import { systemClock } from '../../src/node/clock.js';
import { loadBlake3 } from '../../src/node/hash/node-hasher.js';
import { addressFromPublicKey } from '../../src/shared/market-address.js';
import { silentLogger } from '../../src/node/log.js';
import type { CapabilitiesFrame } from '../../src/shared/market-protocol.js';
import { until } from '../support/wait.js';
import { tempDir } from '../support/temp-dir.js';
import { FakeHost, HARDWARE_ADAPTER } from '../main/gpu/fake-host.js';

// Four cores, whatever this machine has: automatic threads are then 3, not the 1 a host that
// ignored "automatic" would announce (a 2-core machine could not tell the two apart).
vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  const availableParallelism = () => 4;
  return { ...os, availableParallelism, default: { ...os, availableParallelism } };
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A stand-in market socket: challenge, welcome after the first capabilities, and every capabilities frame recorded. */
async function captureMarket(): Promise<{ url: string; frames: CapabilitiesFrame[]; close: () => Promise<void> }> {
  const blake3 = await loadBlake3();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const frames: CapabilitiesFrame[] = [];
  wss.on('connection', (ws: WebSocket) => {
    ws.send(
      JSON.stringify({ type: 'challenge', version: 1, market_id: 'capture', nonce: '00'.repeat(32), practice: false }),
    );
    let address = '';
    let welcomed = false;
    ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString('utf8')) as { type: string; public_key?: string };
      if (f.type === 'auth') address = addressFromPublicKey(fromHex(f.public_key ?? '', 'public key'), blake3);
      if (f.type !== 'capabilities') return;
      frames.push(f as CapabilitiesFrame);
      if (welcomed) return;
      welcomed = true;
      ws.send(
        JSON.stringify({
          type: 'welcome',
          address,
          heartbeat_ms: 60_000,
          leased_jobs: [],
          server_time: Date.now(),
          market_key: '00'.repeat(32),
        }),
      );
    });
  });
  const port = (wss.address() as { port: number }).port;
  const market = {
    url: `http://127.0.0.1:${port}`,
    frames,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
  cleanups.push(() => market.close());
  return market;
}

/** A built renderer, as `tessera headless` needs one. */
function fakeRenderer(base: string): string {
  const dir = join(base, 'renderer');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tessera</title>\n');
  return dir;
}

/** The desktop app's composition (src/main/electron/main.ts calls startAppHost so), with a fake GPU window and settings in memory. */
function desktopOptions(dataDir: string, threads: number | null): AppHostOptions {
  return {
    dataDir,
    settings: new MemorySettingsStore({ threads }),
    clock: systemClock,
    logger: silentLogger,
    logs: new LogBuffer(200, systemClock.now),
    info: { name: 'Tessera', version: '0.0.0-test', platform: process.platform },
    headless: false,
    openGpuHost: () => new FakeHost(),
    metricsPort: 0,
    practiceMarket: {},
    policy: { observe: () => ({ idleSeconds: 3600, onBattery: false }), intervalMs: 5_000 },
  };
}

/** The last capabilities frame once the GPU is announced (it comes up after the join). */
async function announced(frames: CapabilitiesFrame[], who: string): Promise<CapabilitiesFrame> {
  const withGpu = await until(
    `${who} announced its GPU`,
    () => frames.filter((f) => f.gpu !== null),
    (f) => f.length > 0,
    30_000,
  );
  return withGpu[withGpu.length - 1] as CapabilitiesFrame;
}

describe('one provider node for every host', () => {
  it.each([
    ['automatic threads', null],
    ['a threads setting', 2],
  ] as const)(
    'the CLI, headless mode and the desktop app announce the same threads, measured MB/s and GPU (%s)',
    async (_name, threads) => {
      const base = tempDir('tessera-hosts-');
      const cli = await captureMarket();
      const headless = await captureMarket();
      const desktop = await captureMarket();

      // `tessera provide --market URL [--threads N]`, with its GPU host a fake instead of Dawn.
      const provider = await startProvider({
        market: cli.url,
        dataDir: join(base, 'cli'),
        threads,
        logger: silentLogger,
        openGpuHost: () => new FakeHost(),
        metricsPort: 0,
      });
      cleanups.push(() => provider.stop(1000));

      // `tessera headless --market URL`, the threads field set (or left empty) in its settings.
      mkdirSync(join(base, 'headless'), { recursive: true });
      writeFileSync(join(base, 'headless', 'settings.json'), JSON.stringify({ threads }));
      const server = await startHeadless({
        port: 0,
        dataDir: join(base, 'headless'),
        market: headless.url,
        join: true,
        rendererDir: fakeRenderer(base),
        metricsPort: 0,
        openGpuHost: () => new FakeHost(),
      });
      cleanups.push(() => server.close());
      await server.joined;

      // The desktop app: the same composition main.ts runs, then Join from the UI.
      const host = await startAppHost(desktopOptions(join(base, 'desktop'), threads));
      cleanups.push(() => host.close());
      await host.app.join({ kind: 'url', url: desktop.url });

      const frames = {
        cli: await announced(cli.frames, 'the CLI'),
        headless: await announced(headless.frames, 'headless mode'),
        desktop: await announced(desktop.frames, 'the desktop app'),
      };
      const expectedThreads = threads ?? automaticThreads();
      expect(expectedThreads).toBe(threads ?? 3);
      for (const [who, f] of Object.entries(frames)) {
        expect(f.cpu_threads, who).toBe(expectedThreads);
        expect(f.max_jobs, who).toBe(expectedThreads);
        expect(f.mbps, who).toBeGreaterThan(0);
        expect(f.gpu, who).toEqual({
          name: HARDWARE_ADAPTER.description,
          vendor: HARDWARE_ADAPTER.vendor,
          software: false,
        });
      }
      // Each host announces what its node measured at start.
      expect(frames.cli.mbps).toBe(provider.node.mbps);
      expect(frames.desktop.mbps).toBe(host.node.mbps);
    },
    120_000,
  );

  it('the Join screen benchmark reports a GPU figure when the GPU host is a ready hardware GPU', async () => {
    const host = await startAppHost(desktopOptions(tempDir('tessera-bench-'), null));
    cleanups.push(() => host.close());
    await until(
      'GPU ready',
      () => host.node.services.gpu?.ready,
      (r) => r === true,
      30_000,
    );
    const bench = await host.app.benchmark(1 << 20);
    expect(bench.cpu_mbps).toBeGreaterThan(0);
    expect(bench.gpu_mbps).not.toBeNull();
    expect(bench.gpu_mbps).toBeGreaterThan(0);
  }, 60_000);

  it('opens and closes a node 20 times: no handle outlives a close and the ledger is free after each', async () => {
    const market = await captureMarket();
    const base = tempDir('tessera-reopen-');
    const renderer = fakeRenderer(base);
    const dataDir = join(base, 'data');
    const open = async () => {
      const server = await startHeadless({
        port: 0,
        dataDir,
        market: market.url,
        join: true,
        rendererDir: renderer,
        metricsPort: 0,
        openGpuHost: () => new FakeHost(),
      });
      await server.joined;
      await until(
        'announced',
        () => server.node.status().state,
        (s) => s === 'connected',
        30_000,
      );
      await server.close();
    };
    const resources = () => {
      const counts = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
      return counts;
    };
    // The first run loads modules and warms lazy singletons; every later close must return to this.
    await open();
    const baseline = resources();
    for (let i = 0; i < 20; i++) {
      await open();
      const now = resources();
      for (const [kind, n] of now)
        expect(n, `${kind} after close ${i + 1} (baseline ${baseline.get(kind) ?? 0})`).toBeLessThanOrEqual(
          baseline.get(kind) ?? 0,
        );
      // The ledger's connection is closed (SQLite removes the -wal with the last one) and a write takes the lock at once.
      const dbPath = join(dataDir, 'ledger.db');
      expect(existsSync(`${dbPath}-wal`)).toBe(false);
      const db = new Database(dbPath, { timeout: 0 });
      try {
        db.exec('BEGIN IMMEDIATE; COMMIT;');
      } finally {
        db.close();
      }
    }
  }, 300_000);
});
