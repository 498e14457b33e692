import { onTestFinished } from 'vitest';
import { AppService, type AppServiceDeps } from '../../../src/main/api/app-service.js';
import { ProviderService } from '../../../src/main/services/provider-service.js';
import { nodeSha256 } from '../../../src/node/hash/node-hasher.js';
import { MemorySettingsStore } from '../../../src/main/api/settings-store.js';
import { openLedger } from '../../../src/main/ledger.js';
import { tempDir } from '../../support/temp-dir.js';

/**
 * An AppService on a real ledger in a fresh temp dir, closed when the test finishes. Its
 * providers are plain ProviderServices on that ledger (in-process digests, 1 thread, no GPU);
 * test/hosts starts the hosts' real provider node.
 */
export async function testAppNode(over: Partial<AppServiceDeps> = {}, now = () => Date.now()): Promise<AppService> {
  const ledger = await openLedger({ dataDir: tempDir(), clock: { now } });
  const node = new AppService({
    ledger,
    settings: new MemorySettingsStore(),
    clock: { now },
    info: { name: 'Tessera', version: '0.0.0-test', platform: process.platform },
    startPractice: null,
    gpuBenchmark: null,
    createProvider: (market, hooks) =>
      new ProviderService({
        ...hooks,
        market,
        db: ledger.db,
        settlement: ledger.settlement,
        signer: ledger.identity,
        blake3: ledger.blake3,
        sha256: nodeSha256,
        clock: { now },
        threads: 1,
      }),
    ...over,
  });
  onTestFinished(async () => {
    await node.close();
    ledger.close();
  });
  return node;
}
