import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { sql } from '../../src/main/db/sql.js';
import { openLedger } from '../../src/main/ledger.js';
import { ProviderService } from '../../src/main/services/provider-service.js';
import { nodeSha256 } from '../../src/node/hash/node-hasher.js';
import type { JobFrame } from '../../src/shared/market-protocol.js';
import { tempDir } from '../support/temp-dir.js';

/** A stand-in market socket: challenge, welcome after capabilities, then whatever the test sends; records the provider's frames. */
async function rawMarket(): Promise<{
  url: string;
  frames: { type: string; [k: string]: unknown }[];
  send: (f: unknown) => void;
  welcomed: Promise<void>;
  close: () => Promise<void>;
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const frames: { type: string; [k: string]: unknown }[] = [];
  let socket: WebSocket | undefined;
  let welcome: () => void = () => undefined;
  const welcomed = new Promise<void>((r) => (welcome = r));
  wss.on('connection', (ws: WebSocket) => {
    socket = ws;
    ws.send(
      JSON.stringify({ type: 'challenge', version: 1, market_id: 'raw', nonce: '00'.repeat(32), practice: false }),
    );
    ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString('utf8')) as { type: string };
      frames.push(f);
      if (f.type === 'capabilities') {
        ws.send(
          JSON.stringify({
            type: 'welcome',
            address: 'cpc1' + 'q'.repeat(38),
            heartbeat_ms: 60_000,
            leased_jobs: [],
            server_time: Date.now(),
            market_key: '00'.repeat(32),
          }),
        );
        welcome();
      }
    });
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`,
    frames,
    send: (f) => socket?.send(JSON.stringify(f)),
    welcomed,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

/** Resolves when `pred` holds, checked on every frame (no fixed sleeps); rejects after `ms`. */
async function waitFor<T>(what: string, read: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a job the provider cannot record', () => {
  it('is reported lost at once (job_lost with the reason), not left to the market deadline; the provider takes the next job', async () => {
    const market = await rawMarket();
    onTestFinished(() => market.close());
    const ledger = await openLedger({ dataDir: tempDir() });
    const service = new ProviderService({
      market: market.url,
      db: ledger.db,
      settlement: ledger.settlement,
      signer: ledger.identity,
      blake3: ledger.blake3,
      sha256: nodeSha256,
      clock: { now: () => Date.now() },
      threads: 1,
      ask: 0n,
      maxJobs: 1,
    });
    onTestFinished(async () => {
      await service.close();
      ledger.close();
    });
    service.start();
    await market.welcomed;
    // The ledger refuses to record a job (as a full disk or a failing drive would).
    ledger.db.run(
      sql`CREATE TEMP TRIGGER refuse_jobs BEFORE INSERT ON provider_jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
    );
    const job = (): JobFrame => ({
      type: 'job',
      job_id: randomUUID(),
      task_id: randomUUID(),
      workload: 'inference',
      gpu_required: false,
      lane: 'consumer',
      slice: { encoding: 'base64', data: Buffer.from('slice bytes').toString('base64'), bytes: 11 },
      offer: '1000',
      epoch: 1,
      deadline: Date.now() + 120_000,
      assignment_key: 'ab'.repeat(32),
      synthetic: null,
    });
    const first = job();
    market.send(first);
    const lost = await waitFor(
      'job_lost',
      () => market.frames.find((f) => f.type === 'job_lost' && f.job_id === first.job_id),
      10_000,
    );
    expect(lost).toEqual({
      type: 'job_lost',
      job_id: first.job_id,
      reason: expect.stringMatching(/^the provider could not record the job: .*database or disk is full/),
    });
    expect(service.status().running).toBe(0);

    // Recording works again: the next job runs and its result is sent (the slot was not blocked).
    ledger.db.run(sql`DROP TRIGGER temp.refuse_jobs`);
    const second = job();
    market.send(second);
    const result = await waitFor(
      'result',
      () => market.frames.find((f) => f.type === 'result' && (f.result as { job_id: string }).job_id === second.job_id),
      10_000,
    );
    expect(result).toMatchObject({ type: 'result', epoch: 1 });
  });
});
