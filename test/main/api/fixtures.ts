import { onTestFinished } from 'vitest';
import { AppService, type AppServiceDeps } from '../../../src/main/api/app-service.js';
import { MemorySettingsStore } from '../../../src/main/api/settings-store.js';
import { openLedger } from '../../../src/main/ledger.js';
import { tempDir } from '../../helpers.js';

/** An AppService on a real ledger in a fresh temp dir, closed when the test finishes. */
export async function testAppNode(over: Partial<AppServiceDeps> = {}, now = () => Date.now()): Promise<AppService> {
  const ledger = await openLedger({ dataDir: tempDir(), clock: { now } });
  const node = new AppService({ ledger, settings: new MemorySettingsStore(), clock: { now }, info: { name: 'Tessera', version: '0.0.0-test', platform: process.platform }, ...over });
  onTestFinished(async () => {
    await node.close();
    ledger.close();
  });
  return node;
}

/** xorshift32, seeded: the test prints its seed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}
