import { generateKeyPairSync, sign } from 'node:crypto';
import WebSocket from 'ws';
import type { Clock } from '../../src/core/clock.js';
import type { Blake3Hasher } from '../../src/core/hash/hasher.js';
import { fromHex } from '../../src/core/hex.js';
import { createSliceDigester } from '../../src/core/market/assignment-proof.js';
import {
  computeResultToJson,
  type ComputeResult,
  type UnsignedComputeResult,
} from '../../src/core/market/compute-result.js';
import {
  ed25519SignerFromSeed,
  signComputeResult,
  signerAddress,
  type ResultSigner,
} from '../../src/node/signing/result-signing.js';
import {
  authSigningBytes,
  MarketFrame,
  parseFrame,
  type JobFrame,
  type ProviderFrame,
} from '../../src/shared/market-protocol.js';

/** How long a frame wait lasts before it fails: a last resort, generous so a loaded machine does not trip it. */
const FRAME_WAIT_MS = 30_000;

type ResultAckFrame = Extract<MarketFrame, { type: 'result_ack' }>;

/**
 * A hand-driven provider over a raw socket (for cheaters and protocol abuse). Its waits resolve
 * on the frame that satisfies them (no polling); each fails after FRAME_WAIT_MS, naming what it
 * waited for and the frames it got.
 */
/** A CPU provider's capabilities frame: one thread, no GPU, both lanes, ask 0, one job at a time; `over` changes any of it. */
export function capabilitiesFrame(
  over: Partial<Extract<ProviderFrame, { type: 'capabilities' }>> = {},
): Extract<ProviderFrame, { type: 'capabilities' }> {
  return {
    type: 'capabilities',
    cpu_threads: 1,
    gpu: null,
    mbps: 100,
    lanes: ['consumer', 'industrial'],
    ask: '0',
    max_jobs: 1,
    ...over,
  };
}

export class RawProvider {
  readonly signer: ResultSigner;
  readonly address: string;
  readonly frames: MarketFrame[] = [];
  ws!: WebSocket;
  closeCode: number | undefined;
  marketId = '';
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly base: string,
    blake3: Blake3Hasher,
    seed: Uint8Array,
    /** Stamps heartbeats and results (default: wall time); give the market's clock when the test drives it. */
    readonly clock: Clock = { now: () => Date.now() },
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
      this.wake();
    });
    this.ws.on('close', (code: number) => {
      this.closeCode = code;
      this.wake();
    });
    await this.waitFor('challenge', () => this.frames.some((f) => f.type === 'challenge') || undefined);
  }

  /** Auth + capabilities; resolves on the welcome. */
  async join(caps: Partial<Extract<ProviderFrame, { type: 'capabilities' }>> = {}): Promise<void> {
    await this.open();
    const ch = this.frames.find((f) => f.type === 'challenge') as Extract<MarketFrame, { type: 'challenge' }>;
    this.sendJson({
      type: 'auth',
      version: 1,
      public_key: this.signer.nodeId,
      signature: this.signer.sign(authSigningBytes(ch.market_id, ch.nonce)),
    });
    this.sendJson(capabilitiesFrame(caps));
    await this.waitFor('welcome', () => this.frames.some((f) => f.type === 'welcome') || undefined);
  }

  /**
   * Resolves with `check()`'s first defined value, tried now and after every frame (and at the
   * close); fails after `ms`.
   */
  waitFor<T>(what: string, check: () => T | undefined, ms = FRAME_WAIT_MS): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const v = check();
        if (v === undefined) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${what} at ${this.address.slice(0, 12)}…; frames: ${this.frames.map((f) => f.type).join(', ') || 'none'}; close code ${this.closeCode ?? 'none'}`,
          ),
        );
      }, ms);
      this.waiters.add(waiter);
    });
  }

  /** Resolves when the socket has closed (with its code). */
  closed(ms = FRAME_WAIT_MS): Promise<number> {
    return this.waitFor('the socket to close', () => this.closeCode, ms);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  sendJson(v: unknown): void {
    this.ws.send(JSON.stringify(v));
  }

  /** A heartbeat naming the jobs this provider holds (all it was sent, unless `inFlight` says otherwise). */
  heartbeat(inFlight: readonly string[] = this.jobs().map((j) => j.job_id)): void {
    this.sendJson({ type: 'heartbeat', sent_at: this.clock.now(), in_flight: inFlight });
  }

  /** A result frame; its epoch is that of the latest job frame this provider got for the job (1 if none). */
  sendResult(
    result: { job_id: string },
    epoch = this.jobs()
      .filter((j) => j.job_id === result.job_id)
      .at(-1)?.epoch ?? 1,
  ): void {
    this.sendJson({ type: 'result', result, epoch });
  }

  /** The honest result frame for `job` (both digests of its slice under the assignment's key), signed, with a new `nonce`. */
  honestResult(
    job: JobFrame,
    blake3: Blake3Hasher,
    nonce: bigint,
  ): { type: 'result'; result: ReturnType<typeof computeResultToJson>; epoch: number } {
    return { type: 'result', result: this.resultJson(job, blake3, nonce), epoch: job.epoch };
  }

  /** The signed result (JSON) an honest provider returns for `job`, with fields of `o` overriding it (a made-up hash, an old created_at). */
  resultJson(
    job: JobFrame,
    blake3: Blake3Hasher,
    nonce: bigint,
    o: Partial<UnsignedComputeResult> = {},
  ): ReturnType<typeof computeResultToJson> {
    return computeResultToJson(this.signedResult(job, blake3, nonce, o));
  }

  /** `resultJson` before it is turned into JSON: the signed ComputeResult. */
  signedResult(
    job: JobFrame,
    blake3: Blake3Hasher,
    nonce: bigint,
    o: Partial<UnsignedComputeResult> = {},
  ): ComputeResult {
    const d = createSliceDigester(fromHex(job.assignment_key), blake3);
    d.update(Buffer.from(job.slice?.data ?? '', 'base64'));
    const { resultHash, proof } = d.digest();
    const unsigned: UnsignedComputeResult = {
      market_id: this.marketId,
      task_id: job.task_id,
      job_id: job.job_id,
      worker_address: this.address,
      result_hash: resultHash,
      proof,
      nonce,
      created_at: this.clock.now(),
      ...o,
    };
    return signComputeResult(unsigned, { signer: this.signer, blake3 });
  }

  sendRaw(v: string | Buffer): void {
    this.ws.send(v);
  }

  jobs(): JobFrame[] {
    return this.frames.filter((f): f is JobFrame => f.type === 'job');
  }

  /** The job frame after the first `seen` ones, once it arrives. */
  nextJob(seen = 0): Promise<JobFrame> {
    return this.waitFor(`job frame #${seen + 1}`, () => this.jobs()[seen]);
  }

  /** The `nth` result_ack for `jobId`, once it arrives. */
  ackFor(jobId: string, nth = 0): Promise<ResultAckFrame> {
    return this.waitFor(
      `ack #${nth + 1} for ${jobId}`,
      () => this.frames.filter((f): f is ResultAckFrame => f.type === 'result_ack' && f.job_id === jobId)[nth],
    );
  }

  /** The first frame of `type` after the first `seen` of that type, once it arrives. */
  nextFrame<K extends MarketFrame['type']>(type: K, seen = 0): Promise<Extract<MarketFrame, { type: K }>> {
    return this.waitFor(
      `${type} frame #${seen + 1}`,
      () => this.frames.filter((f): f is Extract<MarketFrame, { type: K }> => f.type === type)[seen],
    );
  }

  close(): void {
    this.ws.close();
  }
}

/** A fixed Ed25519 seed per `n` (test keys only). */
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
