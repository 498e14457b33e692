import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHeadless } from '../../../src/hosts/headless/headless-server.js';
import type { NodeStatusInfo, StartupInfo } from '../../../src/shared/contract.js';
import { nodeStatusWord } from '../../../src/shared/status-word.js';
import { tempDir } from '../../support/temp-dir.js';

function renderer(base: string): string {
  const dir = join(base, 'renderer');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tessera</title>\n');
  return dir;
}

describe('the node says where it is on its way to earning', () => {
  it('carries the startup phase while the practice market starts (with its steps), then connecting, then joined', async () => {
    const base = tempDir('tessera-startup-');
    const s = await startHeadless({
      port: 0,
      dataDir: join(base, 'data'),
      join: true,
      gpu: false,
      metricsPort: 0,
      rendererDir: renderer(base),
      practiceMarket: { inMemoryStore: true, customer: { intervalMs: 300 }, validator: { batchMs: 0 } },
    });
    onTestFinished(() => s.close());
    const seen: StartupInfo[] = [];
    const joined = new Promise<NodeStatusInfo>((resolve) => {
      const off = s.node.events.onDidEmit((event, payload) => {
        if (event !== 'node:status') return;
        const status = payload as NodeStatusInfo;
        if (status.startup) seen.push(status.startup);
        if (status.startup?.phase === 'joined') {
          off();
          resolve(status);
        }
      });
    });

    // The join at start is under way as soon as the server listens: the practice market is starting, not "Not joined".
    const first = s.node.status();
    expect(first.joined).toBe(false);
    expect(first.startup).toMatchObject({ phase: 'starting_practice', progress: expect.any(Number) });
    expect(nodeStatusWord(first)).toEqual({ word: 'Connecting', detail: 'starting the practice market', tone: 'busy' });
    // A second join while it starts is refused, not a second practice market.
    await expect(s.node.join({ kind: 'practice' })).rejects.toMatchObject({ code: 'ALREADY_JOINED' });

    const done = await joined;
    expect(done.joined).toBe(true);
    expect(done.startup).toMatchObject({ phase: 'joined', step: null, progress: null });
    const phases = seen.map((x) => x.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(phases).toEqual(['starting_practice', 'connecting', 'joined']);
    // The practice market's steps came through with rising progress.
    const steps = seen.filter((x) => x.phase === 'starting_practice');
    expect(steps.map((x) => x.step)).toEqual(
      expect.arrayContaining(["Preparing the practice market's tables", "Starting the practice market's server"]),
    );
    const progress = steps.map((x) => x.progress ?? 0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(Math.max(...progress)).toBeGreaterThan(0.5);
    await s.joined;
  }, 180_000);
});
