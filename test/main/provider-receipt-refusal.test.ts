import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { makeReceipt, receiptToJson, type Receipt } from '../../src/core/ledger/receipt.js';
import { MarketKeyRepo } from '../../src/main/db/repos/market-key-repo.js';
import { ProviderJobsRepo } from '../../src/main/db/repos/provider-jobs-repo.js';
import { openLedger, type Ledger } from '../../src/main/ledger.js';
import { metricValue } from '../../src/main/metrics.js';
import { ProviderService } from '../../src/main/services/provider-service.js';
import { nodeSha256 } from '../../src/node/hash/node-hasher.js';
import { signReceipt } from '../../src/node/signing/receipt-signing.js';
import { ed25519SignerFromSeed, type ResultSigner } from '../../src/node/signing/result-signing.js';
import { signal, whenNode } from '../support/provider.js';
import { tempDir } from '../support/temp-dir.js';

const TASK = '0190c7a6-0000-7000-8000-000000000001';
const keyA = ed25519SignerFromSeed(new Uint8Array(32).fill(1));
const keyB = ed25519SignerFromSeed(new Uint8Array(32).fill(2));

/**
 * A stand-in market `raw`: challenge, then (after capabilities) whatever `atJoin` sends before
 * the welcome, then the welcome announcing `key`'s public key. Records the provider's frames and
 * signals each receipt_ack.
 */
async function rawMarket(key: () => ResultSigner, atJoin: (send: (f: unknown) => void) => void = () => undefined) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const acks: string[] = [];
  let socket: WebSocket | undefined;
  let onAck: (key: string) => void = () => undefined;
  wss.on('connection', (ws: WebSocket) => {
    socket = ws;
    const send = (f: unknown) => ws.send(JSON.stringify(f));
    send({ type: 'challenge', version: 1, market_id: 'raw', nonce: '00'.repeat(32), practice: true });
    ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString('utf8')) as { type: string; idempotency_key?: string };
      if (f.type === 'receipt_ack') {
        acks.push(f.idempotency_key as string);
        onAck(f.idempotency_key as string);
      }
      if (f.type === 'capabilities') {
        atJoin(send);
        send({
          type: 'welcome',
          address: 'cpc1' + 'q'.repeat(38),
          heartbeat_ms: 60_000,
          leased_jobs: [],
          server_time: Date.now(),
          market_key: key().nodeId,
        });
      }
    });
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`,
    acks,
    send: (f: unknown) => socket?.send(JSON.stringify(f)),
    /** Resolves at the acknowledgement of `key`. */
    acked: (key: string) => {
      const s = signal();
      onAck = (k) => k === key && s.resolve();
      return s.promise;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

type Line = { level: string; msg: string; fields?: Record<string, unknown> };

async function node(
  url: string,
  dataDir: string,
  lines: Line[] = [],
): Promise<{ service: ProviderService; ledger: Ledger }> {
  const logger = {
    log: (level: string, msg: string, fields?: Record<string, unknown>) => lines.push({ level, msg, fields }),
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'info', msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'warn', msg, fields }),
    error: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'error', msg, fields }),
  };
  const ledger = await openLedger({ dataDir, logger });
  const service = new ProviderService({
    market: url,
    db: ledger.db,
    settlement: ledger.settlement,
    signer: ledger.identity,
    blake3: ledger.blake3,
    sha256: nodeSha256,
    clock: { now: () => Date.now() },
    threads: 1,
    ask: 0n,
    backoff: { baseMs: 10, capMs: 20 },
    logger,
  });
  onTestFinished(async () => {
    await service.close();
    ledger.close();
  });
  service.start();
  return { service, ledger };
}

function receiptFor(ledger: Ledger, provider: string, job: string, market = 'raw'): Receipt {
  return makeReceipt(
    { job_id: job, buyer: `market:${market}`, provider, quote_price: 1000n, issued_at: 1_700_000_000_000 },
    ledger.blake3,
  );
}

const frame = (r: Receipt) => ({ type: 'receipt', receipt: receiptToJson(r), task_id: TASK });

describe('receipts the node refuses', () => {
  it('an unsigned or mis-signed receipt is not recorded, not acknowledged, and counted by code; a signed one is', async () => {
    const m = await rawMarket(() => keyA);
    onTestFinished(() => m.close());
    const lines: Line[] = [];
    const { service, ledger } = await node(m.url, tempDir(), lines);
    await whenNode({ service }, 'connected', () => service.status().state === 'connected');
    expect(new MarketKeyRepo(ledger.db).get('raw')).toMatchObject({ publicKey: keyA.nodeId, practice: true });

    const unsigned = receiptFor(ledger, service.address, 'j-unsigned');
    const forged = signReceipt(receiptFor(ledger, service.address, 'j-forged'), 'raw', keyB);
    const otherMarket = signReceipt(receiptFor(ledger, service.address, 'j-other', 'elsewhere'), 'elsewhere', keyA);
    const good = signReceipt(receiptFor(ledger, service.address, 'j-good'), 'raw', keyA);
    const acked = m.acked(good.idempotency_key);
    for (const r of [unsigned, forged, otherMarket, good]) m.send(frame(r));
    await acked; // frames are handled in order: the three before it were handled first

    expect(m.acks).toEqual([good.idempotency_key]);
    const status = ledger.settlement.status();
    expect(status.receipts).toEqual({ recorded: 1, applied: 0, archived: 0 });
    expect(new ProviderJobsRepo(ledger.db).earningsByDay(0)[0]).toMatchObject({ jobs: 1, paid: 1000n });
    const codes = lines.filter((l) => l.msg === 'receipt refused').map((l) => l.fields?.code);
    expect(codes).toEqual(['RECEIPT_UNSIGNED', 'RECEIPT_BAD_SIGNATURE', 'RECEIPT_WRONG_MARKET']);
    for (const code of ['RECEIPT_UNSIGNED', 'RECEIPT_BAD_SIGNATURE', 'RECEIPT_WRONG_MARKET'])
      expect(await metricValue(ledger.registry, 'receipt_refused_total', { code }), code).toBe(1);
  });

  it('a receipt sent before the welcome is checked once the key is pinned, and recorded', async () => {
    const dir = tempDir();
    const probe = await openLedger({ dataDir: dir }); // the node's address, known before it joins
    const address = new ProviderService({
      market: 'http://127.0.0.1:9',
      db: probe.db,
      settlement: probe.settlement,
      signer: probe.identity,
      blake3: probe.blake3,
      sha256: nodeSha256,
      clock: { now: () => Date.now() },
      threads: 1,
    }).address;
    const early = signReceipt(receiptFor(probe, address, 'j-early'), 'raw', keyA);
    probe.close();
    const m = await rawMarket(
      () => keyA,
      (send) => send(frame(early)),
    );
    onTestFinished(() => m.close());
    const acked = m.acked(early.idempotency_key);
    const { ledger } = await node(m.url, dir);
    await acked;
    expect(ledger.settlement.status().receipts.recorded).toBe(1);
  });

  it('a market whose key changed is refused with MARKET_KEY_CHANGED until its key is forgotten', async () => {
    let key = keyA;
    const m = await rawMarket(() => key);
    onTestFinished(() => m.close());
    const dir = tempDir();
    const first = await node(m.url, dir);
    await whenNode(first, 'connected', () => first.service.status().state === 'connected');
    await first.service.close();
    first.ledger.close();

    key = keyB;
    const lines: Line[] = [];
    const second = await node(m.url, dir, lines);
    await whenNode(second, 'refused', () => second.service.status().state === 'closed');
    const refusal = lines.find((l) => l.fields?.code === 'MARKET_KEY_CHANGED');
    expect(refusal?.level).toBe('error');
    expect(refusal?.msg).toMatch(
      /^market raw now signs with key [0-9a-f]{16}…, not the key [0-9a-f]{16}… this node pinned on \d{4}-\d\d-\d\d; not joining it — if the market's key was replaced on purpose, run `tessera market-key forget raw` and start the node again$/,
    );
    expect(lines.some((l) => l.msg === 'market connection' && l.fields?.state === 'connected')).toBe(false);
    const repo = new MarketKeyRepo(second.ledger.db);
    expect(repo.get('raw')?.publicKey).toBe(keyA.nodeId); // the pin is kept
    // The status says why (what Diagnostics shows as its one red line), not a bare "closed".
    expect(second.service.status().failure?.refusal?.code).toBe('MARKET_KEY_CHANGED');
    await second.service.close();

    // A person accepts the new key deliberately (what `tessera market-key forget raw` does).
    expect(repo.forget('raw')).toBe(true);
    second.ledger.close();
    const third = await node(m.url, dir);
    await whenNode(third, 'connected', () => third.service.status().state === 'connected');
    expect(new MarketKeyRepo(third.ledger.db).get('raw')?.publicKey).toBe(keyB.nodeId);
  });
});
