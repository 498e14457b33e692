import { onTestFinished } from 'vitest';
import { AppService, type AppServiceDeps } from '../../../src/main/api/app-service.js';
import { MemorySettingsStore } from '../../../src/main/api/settings-store.js';
import { openLedger } from '../../../src/main/ledger.js';
import { tempDir } from '../../support/temp-dir.js';

/** An AppService on a real ledger in a fresh temp dir, closed when the test finishes. */
export async function testAppNode(over: Partial<AppServiceDeps> = {}, now = () => Date.now()): Promise<AppService> {
  const ledger = await openLedger({ dataDir: tempDir(), now });
  const node = new AppService({ ledger, settings: new MemorySettingsStore(), clock: { now }, info: { name: 'Tessera', version: '0.0.0-test', platform: process.platform }, ...over });
  onTestFinished(async () => {
    await node.close();
    ledger.close();
  });
  return node;
}
