import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { MAX_COURIER_BUNDLE_BYTES } from '../../../src/shared/courier-protocol.js';
import {
  CourierRowSchema,
  dispatchContractCall,
  MAX_COURIER_SEND_BASE64,
  type ChannelResult,
} from '../../../src/shared/contract.js';
import { tempDir } from '../../support/temp-dir.js';
import { testAppNode } from './fixtures.js';

describe('courier handlers on a real ledger', () => {
  it('courier:send stores a bundle and answers its row in the contract shape; courier:list lists it with the counts', async () => {
    const node = await testAppNode({}, () => 1_760_000_000_000);
    const h = createAppHandlers(node);
    const data_base64 = Buffer.alloc(1234, 7).toString('base64');
    const sent = (await dispatchContractCall(h, 'courier:send', [
      { name: 'bundle.bin', data_base64, sender: 'carrier' },
    ])) as { ok: true; result: ChannelResult<'courier:send'> };
    expect(sent.ok).toBe(true);
    expect(Object.keys(sent.result).sort()).toEqual(Object.keys(CourierRowSchema.shape).sort());
    expect(sent.result).toMatchObject({
      bytes: 1234,
      sender: 'carrier',
      created_at: 1_760_000_000_000,
      status: 'pending',
      attempts: 0,
      last_error: null,
      reward: null,
    });
    const list = await dispatchContractCall(h, 'courier:list', [{ pending_only: true }]);
    expect(list).toEqual({
      ok: true,
      result: { rows: [sent.result], counts: { pending: 1, acknowledged: 0, rejected: 0, failed: 0 } },
    });
  });

  it('a page cannot make the node read a file by path: courier:send {path} is refused, and a flush to a URL the page set sends nothing', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    // Anything the user can read (e.g. /etc/hostname): here a file with a marker to look for.
    const secret = join(tempDir(), 'secret.txt');
    writeFileSync(secret, 'TOP-SECRET-6f1c2a');
    const bodies: string[] = [];
    const listener = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[]}');
      });
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => listener.close(() => r())));
    const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;

    for (const path of [secret, '/etc/hostname']) {
      const sent = await dispatchContractCall(h, 'courier:send', [{ path, sender: 'attacker' }]);
      expect(sent).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENTS' } });
      // A path smuggled beside valid fields is refused too (strict schema).
      const mixed = await dispatchContractCall(h, 'courier:send', [
        { path, name: 'x', data_base64: '', sender: 'attacker' },
      ]);
      expect(mixed).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENTS' } });
    }
    expect(await dispatchContractCall(h, 'settings:set', [{ market_url: url }])).toMatchObject({ ok: true });
    expect(await dispatchContractCall(h, 'courier:flush', [])).toMatchObject({
      ok: true,
      result: { pending_before: 0 },
    });
    expect(bodies.join('')).not.toContain(Buffer.from('TOP-SECRET-6f1c2a').toString('base64'));
    expect(node.ledger.courier.counts()).toMatchObject({ pending: 0 });
  });

  it('courier:send refuses data that is not base64 or is over the courier limit, storing nothing', async () => {
    const node = await testAppNode();
    const h = createAppHandlers(node);
    expect(MAX_COURIER_SEND_BASE64).toBe(4 * Math.ceil(MAX_COURIER_BUNDLE_BYTES / 3));
    for (const data_base64 of ['not base64!', 'abc', 'A'.repeat(MAX_COURIER_SEND_BASE64 + 4)]) {
      expect(
        await dispatchContractCall(h, 'courier:send', [{ name: 'b', data_base64, sender: 'carrier' }]),
      ).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENTS' } });
    }
    // Within the contract's limit but over this node's courier_max_bundle_bytes (16 MiB by default): BUNDLE, one line.
    const big = Buffer.alloc((16 << 20) + 1).toString('base64');
    const res = await dispatchContractCall(h, 'courier:send', [
      { name: 'big.bin', data_base64: big, sender: 'carrier' },
    ]);
    expect(res).toMatchObject({
      ok: false,
      error: {
        code: 'BUNDLE',
        message: expect.stringContaining('big.bin is 16777217 bytes, over the 16777216-byte courier limit'),
      },
    });
    expect(node.ledger.courier.counts()).toMatchObject({ pending: 0 });
  });
});
