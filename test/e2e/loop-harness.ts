import { generateKeyPairSync, sign } from 'node:crypto';
import WebSocket from 'ws';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { fromHex } from '../../src/core/hex.js';
import { createSliceDigester } from '../../src/core/market/assignment-proof.js';
import { computeResultToJson, type UnsignedComputeResult } from '../../src/core/market/compute-result.js';
import { ed25519SignerFromSeed, signComputeResult, signerAddress, type ResultSigner } from '../../src/node/signing/result-signing.js';
import { ProviderService, type ProviderServiceDeps } from '../../src/main/services/provider-service.js';
import { startLocalMarket } from '../../src/market/local-market.js';
import type { MarketServer } from '../../src/market/market-server.js';
import type { MarketStore } from '../../src/market/store/market-store.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { ValidatorService } from '../../src/market/validator/validator-service.js';
import { authSigningBytes, MarketFrame, parseFrame, type JobFrame } from '../../src/shared/market-protocol.js';
import { createLogger } from '../../src/node/log.js';

export const clock = { now: () => Date.now() };

export interface Market {
  store: MarketStore;
  server: MarketServer;
  validator: ValidatorService;
  base: string;
  blake3: Blake3Hasher;
  customerKey: string;
  customerId: string;
  close(): Promise<void>;
}

/** A market on an embedded store in `dir` with a funded customer, listening on 127.0.0.1. */
export async function startMarket(dir: string, config: Partial<ValidatorConfig>, o: { fund?: bigint; port?: number; customer?: { key: string; id: string }; onDisk?: boolean } = {}): Promise<Market> {
  const { fund = 1_000_000_000n, port = 0, customer } = o;
  const { store, server, validator, blake3, url: base, close } = await startLocalMarket({
    dataDir: dir,
    clock,
    inMemoryStore: !o.onDisk,
    port,
    expirySweepMs: 0,
    customer: false,
    validator: { practice: false, batchMs: 0, sweepMs: 100, heartbeatMs: 100, ...config },
    marketId: 'test-market',
    logger: createLogger('market'),
  });
  let customerKey = customer?.key ?? '';
  let customerId = customer?.id ?? '';
  if (!customer) {
    const c = await server.customers.add('alice');
    customerKey = c.apiKey;
    customerId = c.customer.customerId;
    await server.customers.fund('alice', fund);
  }
  return {
    store,
    server,
    validator,
    base,
    blake3,
    customerKey,
    customerId,
    close,
  };
}

export async function postTask(m: Pick<Market, 'base' | 'customerKey'>, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${m.base}/tasks`, { method: 'POST', headers: { authorization: `Bearer ${m.customerKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

export async function getTask(m: Pick<Market, 'base' | 'customerKey'>, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${m.base}/tasks/${id}`, { headers: { authorization: `Bearer ${m.customerKey}` } });
  return (await res.json()) as Record<string, unknown>;
}

/** Polls until `pred` holds (or throws after `ms`). */
export async function until<T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
}

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

/** A hand-driven provider over a raw socket (for cheaters and protocol abuse). */
export class RawProvider {
  readonly signer: ResultSigner;
  readonly address: string;
  readonly frames: MarketFrame[] = [];
  ws!: WebSocket;
  closeCode: number | undefined;
  marketId = '';

  constructor(
    private readonly base: string,
    blake3: Blake3Hasher,
    seed: Uint8Array,
  ) {
    this.signer = ed25519SignerFromSeed(seed);
    this.address = signerAddress(this.signer, blake3);
  }

  /** Connects and waits for the challenge (no auth yet). */
  async open(): Promise<void> {
    this.ws = new WebSocket(`${this.base.replace('http', 'ws')}/ws/provider`);
    this.ws.on('message', (d: Buffer) => {
      const p = parseFrame(MarketFrame, d.toString('utf8'));
      if (p.ok) this.frames.push(p.frame);
      if (p.ok && p.frame.type === 'challenge') this.marketId = p.frame.market_id;
    });
    this.ws.on('close', (code: number) => {
      this.closeCode = code;
    });
    await until('challenge', () => this.frames.some((f) => f.type === 'challenge'), (v) => v, 5000);
  }

  /** Auth + capabilities; resolves on the welcome. */
  async join(caps: Partial<Extract<import('../../src/shared/market-protocol.js').ProviderFrame, { type: 'capabilities' }>> = {}): Promise<void> {
    await this.open();
    const ch = this.frames.find((f) => f.type === 'challenge') as Extract<MarketFrame, { type: 'challenge' }>;
    this.sendJson({ type: 'auth', version: 1, public_key: this.signer.nodeId, signature: this.signer.sign(authSigningBytes(ch.market_id, ch.nonce)) });
    this.sendJson({ type: 'capabilities', cpu_threads: 1, gpu: null, mbps: 100, lanes: ['consumer', 'industrial'], ask: '0', max_jobs: 1, ...caps });
    await until('welcome', () => this.frames.some((f) => f.type === 'welcome'), (v) => v, 5000);
  }

  sendJson(v: unknown): void {
    this.ws.send(JSON.stringify(v));
  }

  /** A result frame; its epoch is that of the latest job frame this provider got for the job (1 if none). */
  sendResult(result: { job_id: string }, epoch = this.jobs().filter((j) => j.job_id === result.job_id).at(-1)?.epoch ?? 1): void {
    this.sendJson({ type: 'result', result, epoch });
  }

  /** The honest result frame for `job` (both digests of its slice under the assignment's key), signed, with a new `nonce`. */
  honestResult(job: JobFrame, blake3: Blake3Hasher, nonce: bigint): { type: 'result'; result: ReturnType<typeof computeResultToJson>; epoch: number } {
    return { type: 'result', result: this.resultJson(job, blake3, nonce), epoch: job.epoch };
  }

  /** The signed result (JSON) an honest provider returns for `job`, with fields of `o` overriding it (a made-up hash, an old created_at). */
  resultJson(job: JobFrame, blake3: Blake3Hasher, nonce: bigint, o: Partial<UnsignedComputeResult> = {}): ReturnType<typeof computeResultToJson> {
    const d = createSliceDigester(fromHex(job.assignment_key), blake3);
    d.update(Buffer.from(job.slice?.data ?? '', 'base64'));
    const { resultHash, proof } = d.digest();
    const unsigned: UnsignedComputeResult = { market_id: this.marketId, task_id: job.task_id, job_id: job.job_id, worker_address: this.address, result_hash: resultHash, proof, nonce, created_at: Date.now(), ...o };
    return computeResultToJson(signComputeResult(unsigned, { signer: this.signer, blake3 }));
  }

  sendRaw(v: string | Buffer): void {
    this.ws.send(v);
  }

  jobs(): JobFrame[] {
    return this.frames.filter((f): f is JobFrame => f.type === 'job');
  }

  async nextJob(seen = 0): Promise<JobFrame> {
    return (await until('a job', () => this.jobs(), (j) => j.length > seen, 10_000))[seen] as JobFrame;
  }

  async ackFor(jobId: string, nth = 0): Promise<Extract<MarketFrame, { type: 'result_ack' }>> {
    const acks = await until(`ack for ${jobId}`, () => this.frames.filter((f) => f.type === 'result_ack' && f.job_id === jobId), (a) => a.length > nth, 10_000);
    return acks[nth] as Extract<MarketFrame, { type: 'result_ack' }>;
  }

  close(): void {
    this.ws.close();
  }
}

/** A random Ed25519 seed (test keys only). */
export function seedFrom(n: number): Uint8Array {
  const s = new Uint8Array(32);
  s.fill(n & 0xff);
  s[0] = 0x42;
  return s;
}

/** A fresh random key's signature over `data` (a key the market never saw). */
export function foreignSign(data: Uint8Array): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return sign(null, data, privateKey).toString('hex');
}
