import { openLedger, type Ledger, type OpenLedgerOptions } from '../../src/main/ledger.js';
import { ProviderService, type ProviderServiceDeps } from '../../src/main/services/provider-service.js';
import { nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { clock } from './market.js';

export interface Provider {
  service: ProviderService;
  ledger: Ledger;
  address: string;
  close(): Promise<void>;
}

/** A provider node with its own data dir (ledger, identity) joined to `base` (one market URL, or several instances of it). */
export async function startProvider(
  base: string | readonly string[],
  dataDir: string,
  extra: Partial<ProviderServiceDeps> = {},
  ledgerOptions: Omit<OpenLedgerOptions, 'dataDir'> = {},
): Promise<Provider> {
  const ledger = await openLedger({ ...ledgerOptions, dataDir });
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

/**
 * Resolves with `check()`'s first value that is neither undefined nor false, tried now and at
 * every change the node reports (ProviderService.onDidChange: connection state, a job started or
 * finished, an answer, a receipt); fails after `ms`, naming what it waited for.
 */
export function whenNode<T>(
  p: Pick<Provider, 'service'>,
  what: string,
  check: () => T | undefined | false,
  ms = 30_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let off = (): void => undefined;
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; node state ${p.service.status().state}`));
    }, ms);
    const test = (): boolean => {
      const v = check();
      if (v === undefined || v === false) return false;
      off();
      clearTimeout(timer);
      resolve(v);
      return true;
    };
    if (test()) return;
    off = p.service.onDidChange(() => void test());
  });
}

/** A promise and its resolve, for a test double to signal with (a job started, a gate opened). */
export function signal<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
