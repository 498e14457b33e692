import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { ProviderService, type ProviderServiceDeps } from '../../src/main/services/provider-service.js';
import { nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { clock } from './market.js';

export interface Provider {
  service: ProviderService;
  ledger: Ledger;
  address: string;
  close(): Promise<void>;
}

/** A provider node with its own data dir (ledger, identity) joined to `base`. */
export async function startProvider(base: string, dataDir: string, extra: Partial<ProviderServiceDeps> = {}): Promise<Provider> {
  const ledger = await openLedger({ dataDir });
  const service = new ProviderService({
    market: base,
    db: ledger.db,
    settlement: ledger.settlement,
    signer: ledger.identity,
    blake3: ledger.blake3,
    sha256: nodeSha256,
    clock,
    threads: 2,
    ask: 0n,
    backoff: { baseMs: 20, capMs: 200 },
    ...extra,
  });
  service.start();
  return {
    service,
    ledger,
    address: service.address,
    async close() {
      await service.close();
      ledger.close();
    },
  };
}
