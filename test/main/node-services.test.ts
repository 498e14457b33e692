import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import { openDawnChannel } from '../../src/main/gpu/dawn-host.js';
import { jsonLineSink, sinkLogger, silentLogger } from '../../src/node/log.js';
import { pricingBands, startNodeServices } from '../../src/main/node-services.js';
import { PricingBandsSchema } from '../../src/shared/contract.js';
import { pseudoRandomBytes } from '../support/data.js';
import { tempDir } from '../support/temp-dir.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('startNodeServices (the services under every provider node)', () => {
  it('hashes on its GPU host, serves metrics, and saves then reloads the price board', async () => {
    const dir = tempDir();
    const logs: string[] = [];
    const logger = sinkLogger(jsonLineSink((l) => logs.push(l)));
    const port = await freePort();
    const node = await startNodeServices({
      dataDir: join(dir, 'node'),
      logger,
      openGpuHost: () => openDawnChannel(),
      metricsPort: port,
    });
    try {
      const caps = await node.gpu?.start();
      // On a machine without any WebGPU adapter there is nothing to hash on; the rest still holds.
      if (node.gpu?.ready) {
        const digest = await node.gpu.hashBytes(pseudoRandomBytes(5000, 9));
        expect(digest).toBe(toHex(node.ledger.blake3.hash(pseudoRandomBytes(5000, 9))));
      } else {
        expect(caps?.hardware_gpu).toBe(false);
      }

      node.priceBoard.record('consumer', 120n);
      node.priceBoard.record('industrial', 450n);
      const bands = PricingBandsSchema.parse(pricingBands(node));
      expect(bands.admission_mode).toBe('loose');
      expect(bands.lanes.find((l) => l.lane === 'consumer')).toMatchObject({
        count: 1,
        median: '120',
        suggested_bid: '120',
      });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const name of [
        'settle_applied_total',
        'courier_flush_attempt_total',
        'price_band_median',
        'gpu_device_lost_total',
        'admission_mode',
      ])
        expect(text).toContain(name);
      expect(node.ledger.settlement.status().mode).toBe('dry_run');
    } finally {
      await node.close();
      await node.close(); // twice is harmless
    }
    expect(existsSync(join(dir, 'node/state/price_board.v1.bin'))).toBe(true);
    expect(logs.some((l) => l.startsWith('{"msg":"saved price board"'))).toBe(true);

    const again = await startNodeServices({ dataDir: join(dir, 'node'), logger, openGpuHost: null, metricsPort: 0 });
    try {
      expect(again.priceBoard.bands('consumer')?.median).toBe(120n);
      expect(logs.some((l) => l.startsWith('{"msg":"loaded price board"'))).toBe(true);
    } finally {
      await again.close();
    }
  });

  it('refuses to start on a bad config.toml and leaves the data as it was', async () => {
    const dir = tempDir();
    const node = await startNodeServices({
      dataDir: join(dir, 'node'),
      logger: silentLogger,
      openGpuHost: null,
      metricsPort: 0,
    });
    await node.close();
    writeFileSync(join(dir, 'node/config.toml'), 'price_board_window = "lots"\n');
    await expect(
      startNodeServices({ dataDir: join(dir, 'node'), logger: silentLogger, openGpuHost: null, metricsPort: 0 }),
    ).rejects.toThrow(/price_board_window must be an integer from 1 to/);
  });
});
