/**
 * The bench's simulated market clients: lightweight provider sockets (their own Ed25519 keys,
 * correctly signed results over the real hasher) and a customer posting small payload tasks.
 * Shared by bench/market.ts (one market process) and bench/market-cluster.ts (several).
 */
import http from 'node:http';
import WebSocket from 'ws';
import type { Blake3Hasher } from '../src/core/hash/hasher.js';
import { fromHex } from '../src/core/hex.js';
import { sliceDigests } from '../src/core/market/assignment-proof.js';
import { computeResultToJson } from '../src/core/market/compute-result.js';
import {
  ed25519SignerFromSeed,
  signComputeResult,
  signerAddress,
  type ResultSigner,
} from '../src/node/signing/result-signing.js';
import {
  authSigningBytes,
  MARKET_PROTOCOL_VERSION,
  MAX_MARKET_FRAME_BYTES,
  type JobFrame,
  type MarketFrame,
  type ProviderFrame,
} from '../src/shared/market-protocol.js';

// ── simulated providers and the customer ────────────────────────────────────

/** Every timestamp is this process's performance.now(): one clock for both ends of each interval. */
export class Recorder {
  readonly postedAt = new Map<string, number>();
  readonly resultAt = new Map<string, number>();
  readonly jobTask = new Map<string, string>();
  assign: number[] = [];
  receipt: number[] = [];
  receiptTimes: number[] = [];
  recording = false;
  outstanding = 0;
  rejected = 0;
  firstReject = '';

  onJob(job: JobFrame, at: number): void {
    this.jobTask.set(job.job_id, job.task_id);
    const posted = this.postedAt.get(job.task_id);
    if (posted !== undefined && this.recording) this.assign.push(at - posted);
  }

  onReceipt(jobId: string, at: number): void {
    // Receipts are delivered at least once: a second one for a job (re-sent at a join) counts once.
    if (!this.jobTask.has(jobId)) return;
    const sent = this.resultAt.get(jobId);
    if (sent !== undefined && this.recording) this.receipt.push(at - sent);
    this.receiptTimes.push(at);
    const task = this.jobTask.get(jobId);
    if (task !== undefined) {
      this.postedAt.delete(task);
      this.jobTask.delete(jobId);
    }
    this.resultAt.delete(jobId);
    this.outstanding--;
  }
}

export class SimProvider {
  readonly signer: ResultSigner;
  readonly address: string;
  private ws: WebSocket | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private nonce = 0n;
  private readonly inFlight = new Set<string>();
  marketId = '';
  hold = false;
  held: JobFrame[] = [];
  maxJobs = 2;
  /** Called with each job frame as it arrives (Date.now(): comparable with the store's timestamps). */
  onJobFrame: ((job: JobFrame, wallMs: number) => void) | undefined;

  constructor(
    seed: Uint8Array,
    private readonly blake3: Blake3Hasher,
    private readonly rec: Recorder,
  ) {
    this.signer = ed25519SignerFromSeed(seed);
    this.address = signerAddress(this.signer, blake3);
  }

  connect(base: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/provider`, { maxPayload: MAX_MARKET_FRAME_BYTES });
      this.ws = ws;
      ws.on('error', reject);
      ws.on('close', () => clearInterval(this.heartbeat));
      ws.on('message', (data: Buffer) => {
        const f = JSON.parse(data.toString('utf8')) as MarketFrame;
        switch (f.type) {
          case 'challenge':
            this.marketId = f.market_id;
            this.send({
              type: 'auth',
              version: MARKET_PROTOCOL_VERSION,
              public_key: this.signer.nodeId,
              signature: this.signer.sign(authSigningBytes(f.market_id, f.nonce)),
            });
            this.sendCapabilities();
            return;
          case 'welcome':
            this.heartbeat = setInterval(
              () => this.send({ type: 'heartbeat', sent_at: Date.now(), in_flight: [...this.inFlight] }),
              f.heartbeat_ms,
            );
            resolve();
            return;
          case 'job':
            this.onJobFrame?.(f, Date.now());
            this.rec.onJob(f, performance.now());
            this.inFlight.add(f.job_id);
            if (this.hold) this.held.push(f);
            else this.send(this.result(f));
            return;
          case 'result_ack':
            this.inFlight.delete(f.job_id);
            if (!f.accepted) {
              this.rec.rejected++;
              if (!this.rec.firstReject) console.error(`  result refused: ${f.code}: ${f.message}`);
              this.rec.firstReject ||= `${f.code}: ${f.message}`;
            }
            return;
          case 'receipt':
            this.rec.onReceipt(f.receipt.job_id, performance.now());
            this.send({ type: 'receipt_ack', idempotency_key: f.receipt.idempotency_key });
            return;
          case 'error':
            console.error(`provider ${this.address}: market error ${f.code}: ${f.message}`);
            return;
          case 'prices':
            return;
        }
      });
    });
  }

  sendCapabilities(): void {
    this.send({
      type: 'capabilities',
      cpu_threads: 1,
      gpu: null,
      mbps: 1000,
      lanes: ['consumer', 'industrial'],
      ask: '0',
      max_jobs: this.maxJobs,
    });
  }

  /** The signed result of a job: plain and keyed BLAKE3 of its slice, in one pass, under the assignment key. */
  result(job: JobFrame): ProviderFrame {
    if (!job.slice) throw new Error(`job ${job.job_id} has no slice (the bench posts payload tasks only)`);
    const bytes = Buffer.from(job.slice.data, 'base64');
    const d = sliceDigests([bytes], fromHex(job.assignment_key, 'assignment key'), this.blake3);
    const signed = signComputeResult(
      {
        market_id: this.marketId,
        task_id: job.task_id,
        job_id: job.job_id,
        worker_address: this.address,
        result_hash: d.resultHash,
        proof: d.proof,
        nonce: this.nonce++,
        created_at: Date.now(),
      },
      { signer: this.signer, blake3: this.blake3 },
    );
    this.rec.resultAt.set(job.job_id, performance.now());
    return { type: 'result', result: computeResultToJson(signed), epoch: job.epoch };
  }

  send(frame: ProviderFrame): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  close(): Promise<void> {
    clearInterval(this.heartbeat);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'bench done');
    });
  }
}

export class Customer {
  private n = 0;
  private readonly agent = new http.Agent({ keepAlive: true });
  constructor(
    private readonly base: string,
    private readonly apiKey: string,
    private readonly rec: Recorder,
  ) {}

  /** Closes the kept-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * Posts one small inference task (its canonical payload is one job's slice); resolves with its id.
   * Sent with node:http on kept-alive sockets: the load generator shares the cores with the market,
   * and `fetch` cost it about twice the CPU per post (its web streams and promise layers).
   */
  async post(): Promise<string> {
    const i = this.n++;
    this.rec.outstanding++;
    const body = JSON.stringify({
      challenge_type: 'inference',
      payload: { model_id: 'bench-model', prompt: `bench task ${i}`, max_tokens: 16 },
      reward: '0.01',
    });
    const { status, text, at } = await new Promise<{ status: number; text: string; at: number }>((resolve, reject) => {
      const req = http.request(
        `${this.base}/tasks`,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const at = performance.now();
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), at }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const json = JSON.parse(text) as { task_id?: string };
    if (status !== 201 || !json.task_id) throw new Error(`POST /tasks answered ${status}: ${text}`);
    this.rec.postedAt.set(json.task_id, at);
    return json.task_id;
  }
}
