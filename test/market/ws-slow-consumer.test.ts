import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CLOSE_CODES, MarketFrame, parseFrame, type JobFrame } from '../../src/shared/market-protocol.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import { startMarket, type Market } from '../support/market.js';
import { RawProvider, seedFrom } from '../support/raw-provider.js';
import { pseudoRandomBytes } from '../support/data.js';

const SEED = 0x5c0;
console.log(`slow consumer test seed ${SEED}`);

/** Jobs of the task: one MiB each, so each job frame is about 1.4 MB of base64. */
const JOBS = 24;
const MiB = 1024 * 1024;
/**
 * The soft limit: above one job frame, so the healthy provider (one job at a time, read at once)
 * never reaches it, while a provider that does not read passes it after a few frames.
 */
const SOFT = 2 * MiB;

async function call(m: Market, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${m.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${m.customerKey}`,
      ...(body instanceof Uint8Array
        ? { 'content-type': 'application/octet-stream' }
        : body !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
    },
    body: body instanceof Uint8Array ? body : body !== undefined ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** A task of JOBS one-MiB slices (one job each), uploaded and submitted. */
async function postSlicedTask(m: Market): Promise<string> {
  const draft = await call(m, 'POST', '/tasks', {
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt: 'slow consumer', max_tokens: 1 },
    reward: '24.0',
    input: 'slices',
  });
  const id = draft.task_id as string;
  for (let n = 0; n < JOBS; n++) await call(m, 'PUT', `/tasks/${id}/slices/${n}`, pseudoRandomBytes(MiB, SEED + n));
  await call(m, 'POST', `/tasks/${id}/submit`);
  return id;
}

type WsInternals = { _isServer: boolean; _socket: { remotePort?: number; localPort?: number } | null };

/** The largest send buffer each market-side provider socket reached right after a send, by the provider's port. */
function watchServerBuffers(): Map<number, number> {
  const peak = new Map<number, number>();
  const send = WebSocket.prototype.send;
  vi.spyOn(WebSocket.prototype, 'send').mockImplementation(function (this: WebSocket, ...args: unknown[]) {
    (send as (...a: unknown[]) => void).apply(this, args);
    const ws = this as unknown as WsInternals;
    const port = ws._socket?.remotePort;
    if (ws._isServer && port !== undefined) peak.set(port, Math.max(peak.get(port) ?? 0, this.bufferedAmount));
  });
  return peak;
}

let root = '';
let m: Market | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await m?.close();
  m = undefined;
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a provider that never reads what the market sends', () => {
  it.each([
    {
      name: 'above the soft limit for slowConsumerMs',
      limits: { sendBufferSoftBytes: SOFT, sendBufferHardBytes: 64 * MiB, slowConsumerMs: 300 },
    },
    {
      name: 'past the hard limit',
      // Hard = soft: the frame that crosses the soft limit drops the provider at once.
      limits: { sendBufferSoftBytes: SOFT, sendBufferHardBytes: SOFT, slowConsumerMs: 600_000 },
    },
  ] satisfies { name: string; limits: Partial<ValidatorConfig> }[])(
    'is sent no job past the soft limit, is dropped $name (close 4006), and its jobs go to a healthy provider',
    async ({ limits }) => {
      root = mkdtempSync(join(tmpdir(), 'tessera-slow-'));
      m = await startMarket(root, { checkFraction: 0, sliceBytes: MiB, ...limits });
      const market = m;
      const peak = watchServerBuffers();
      // Every lease the market takes back from a provider, by address.
      const lost: { address: string; jobId: string }[] = [];
      const jobLost = market.validator.jobLost.bind(market.validator);
      vi.spyOn(market.validator, 'jobLost').mockImplementation((session, jobId, reason) => {
        lost.push({ address: session.address, jobId });
        return jobLost(session, jobId, reason);
      });

      // The slow provider joins first (dispatch serves providers in join order), takes up to 64
      // jobs, then stops reading its socket.
      const slow = new RawProvider(market.base, market.blake3, seedFrom(SEED & 0xff));
      await slow.join({ max_jobs: 64 });
      const slowPort = (slow.ws as unknown as WsInternals)._socket?.localPort ?? -1;
      slow.ws.pause();

      // The healthy one answers every job it is sent with the honest result.
      const healthy = new RawProvider(market.base, market.blake3, seedFrom((SEED + 1) & 0xff));
      await healthy.join({ max_jobs: 1 });
      let nonce = 1n;
      healthy.ws.on('message', (d: Buffer) => {
        const p = parseFrame(MarketFrame, d.toString('utf8'));
        if (p.ok && p.frame.type === 'job') healthy.sendJson(healthy.honestResult(p.frame, market.blake3, nonce++));
      });

      const taskId = await postSlicedTask(market);
      // Every job is paid to the healthy provider: one receipt per job once the task completes.
      await healthy.nextFrame('receipt', JOBS - 1);
      const receipts = healthy.frames.filter((f) => f.type === 'receipt');
      expect(new Set(receipts.map((f) => f.task_id))).toEqual(new Set([taskId]));
      const task = await market.store.transaction((tx) => tx.tasks.get(taskId));
      expect(task?.status).toBe('completed');

      // Now the slow provider reads what was queued for it: the job frames the market sent before
      // it stopped, then the error frame and the close.
      slow.ws.resume();
      expect(await slow.closed()).toBe(CLOSE_CODES.slowConsumer);
      expect(slow.frames.at(-1)).toMatchObject({ type: 'error', code: 'SLOW_CONSUMER' });
      const sent: JobFrame[] = slow.jobs();
      const frameBytes = Math.max(...sent.map((j) => JSON.stringify(j).length));
      const slowPeak = peak.get(slowPort) ?? 0;
      console.log(
        `slow consumer: ${sent.length} of ${JOBS} job frames sent to it (${frameBytes} bytes each), peak send buffer ${slowPeak} bytes`,
      );
      // The market stopped sending: a few frames went into the kernel's socket buffers, one more
      // crossed the soft limit, and the rest were never sent.
      expect(sent.length).toBeLessThan(JOBS / 2);
      // Bounded memory: the send buffer never held more than the soft limit plus one job frame.
      expect(slowPeak).toBeLessThanOrEqual(SOFT + frameBytes);
      // No job was leased to it again once it was over the soft limit: each job it held (sent to it
      // or withheld) came back from it once.
      const back = lost.filter((l) => l.address === slow.address).map((l) => l.jobId);
      console.log(`leases taken back from the slow provider: ${back.length} (${new Set(back).size} jobs)`);
      expect(back.length).toBe(new Set(back).size);
      expect(back.length).toBeLessThanOrEqual(JOBS);
      // None of the slow provider's jobs was paid to it.
      expect(slow.frames.filter((f) => f.type === 'receipt')).toHaveLength(0);
      healthy.close();
    },
  );
});
