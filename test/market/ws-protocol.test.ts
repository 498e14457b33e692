import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authSigningBytes, CLOSE_CODES, MAX_PROVIDER_FRAME_BYTES } from '../../src/shared/market-protocol.js';
import { startMarket, type Market } from '../support/market.js';
import { foreignSign, RawProvider, seedFrom } from '../support/raw-provider.js';

const SEED = 0x3b;
console.log(`ws protocol test seed ${SEED}`);
const root = mkdtempSync(join(tmpdir(), 'tessera-ws-'));
let m: Market;

/** Everything the store holds about providers and results: must not change on abuse. */
const snapshot = () =>
  m.store.transaction(async (tx) => ({
    providers: await tx.validator.provider(new RawProvider(m.base, m.blake3, seedFrom(SEED)).address),
    balances: await tx.accounts.totals(),
  }));

beforeAll(async () => {
  m = await startMarket(root, { authTimeoutMs: 500 });
});
afterAll(async () => {
  await m?.close();
  rmSync(root, { recursive: true, force: true });
});

async function abuse(send: (p: RawProvider) => void, auth = false): Promise<RawProvider> {
  const p = new RawProvider(m.base, m.blake3, seedFrom(SEED));
  if (auth) await p.join();
  else await p.open();
  send(p);
  await p.closed();
  return p;
}

const errorCode = (p: RawProvider) => (p.frames.find((f) => f.type === 'error') as { code: string } | undefined)?.code;

describe('provider socket: abuse gets an error frame and a close code; the server stays up and nothing is stored', () => {
  it('malformed JSON → MALFORMED_FRAME, close 4000', async () => {
    const before = await snapshot();
    const p = await abuse((x) => x.sendRaw('{not json'));
    expect(p.closeCode).toBe(CLOSE_CODES.malformed);
    expect(errorCode(p)).toBe('MALFORMED_FRAME');
    expect(await snapshot()).toEqual(before);
  });

  it('wrong-typed field → MALFORMED_FRAME naming the field, close 4000', async () => {
    const p = await abuse((x) => x.sendJson({ type: 'auth', version: 1, public_key: 12, signature: 'ab' }));
    expect(p.closeCode).toBe(CLOSE_CODES.malformed);
    expect((p.frames.find((f) => f.type === 'error') as { message: string }).message).toMatch(/^public_key: /);
  });

  it('unknown frame type → close 4000', async () => {
    const p = await abuse((x) => x.sendJson({ type: 'gimme_money' }));
    expect(p.closeCode).toBe(CLOSE_CODES.malformed);
  });

  it('oversized frame → FRAME_TOO_LARGE, close 1009', async () => {
    const p = await abuse((x) =>
      x.sendRaw(
        JSON.stringify({ type: 'heartbeat', sent_at: 1, in_flight: [], pad: 'x'.repeat(MAX_PROVIDER_FRAME_BYTES) }),
      ),
    );
    expect(p.closeCode).toBe(CLOSE_CODES.tooBig);
    expect(errorCode(p)).toBe('FRAME_TOO_LARGE');
  });

  it('a frame before auth → UNAUTHENTICATED, close 4001; nothing registered', async () => {
    const before = await snapshot();
    const p = await abuse((x) => x.sendJson({ type: 'heartbeat', sent_at: Date.now(), in_flight: [] }));
    expect(p.closeCode).toBe(CLOSE_CODES.unauthenticated);
    expect(errorCode(p)).toBe('UNAUTHENTICATED');
    expect(await snapshot()).toEqual(before);
  });

  it('an auth signed by another key → close 4001, no provider stored', async () => {
    const p = await abuse((x) => {
      const ch = x.frames.find((f) => f.type === 'challenge') as { market_id: string; nonce: string };
      x.sendJson({
        type: 'auth',
        version: 1,
        public_key: x.signer.nodeId,
        signature: foreignSign(authSigningBytes(ch.market_id, ch.nonce)),
      });
    });
    expect(p.closeCode).toBe(CLOSE_CODES.unauthenticated);
    expect(await m.store.transaction((tx) => tx.validator.provider(p.address))).toBeUndefined();
  });

  it('no auth in time → close 4002', async () => {
    const p = await abuse(() => undefined);
    expect(p.closeCode).toBe(CLOSE_CODES.authTimeout);
  });

  it('a second auth after joining → WRONG_STATE, close 4004', async () => {
    const p = await abuse(
      (x) => x.sendJson({ type: 'auth', version: 1, public_key: x.signer.nodeId, signature: 'a'.repeat(128) }),
      true,
    );
    expect(p.closeCode).toBe(CLOSE_CODES.wrongState);
  });

  it('the server still answers and a well-behaved provider joins', async () => {
    expect((await fetch(`${m.base}/health`)).status).toBe(200);
    const p = new RawProvider(m.base, m.blake3, seedFrom(SEED + 9));
    await p.join();
    expect(p.frames.some((f) => f.type === 'welcome')).toBe(true);
    p.close();
  });
});
