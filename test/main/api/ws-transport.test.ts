import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TesseraError } from '../../../src/core/errors.js';
import { AppEvents } from '../../../src/main/api/events.js';
import { WsTransport } from '../../../src/main/api/ws-transport.js';
import { WsContractClient, type WebSocketLike } from '../../../src/shared/ws-contract-client.js';
import { CHANNELS, ContractCallError, type ContractHandlers } from '../../../src/shared/contract.js';
import { nodeStatus } from '../../support/node-status.js';

const status = nodeStatus({ joined: false, market: null, state: 'idle', address: 'tsr1test' });

function handlers(internal: unknown[]): ContractHandlers {
  const all = Object.fromEntries(
    CHANNELS.map((c) => [
      c,
      () => {
        throw new Error(`no ${c} in this test`);
      },
    ]),
  );
  return {
    ...all,
    'app:info': () => ({ name: 'Tessera', version: '9.9.9', platform: 'test' }),
    'node:status': () => status,
    'node:leave': () => {
      throw new TesseraError('NOT_JOINED', 'the node has not joined a market');
    },
    'node:pause': () => {
      const e = new Error('disk I/O error in /secret/path');
      internal.push(e);
      throw e;
    },
  } as unknown as ContractHandlers;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serve(opts: { verifyClient?: (req: import('node:http').IncomingMessage) => boolean } = {}) {
  const internal: unknown[] = [];
  const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
  const events = new AppEvents();
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const transport = new WsTransport(server, {
    handlers: handlers(internal),
    events,
    ...(opts.verifyClient ? { verifyClient: opts.verifyClient } : {}),
    logger: {
      log() {},
      info() {},
      warn() {},
      error: (msg, fields) => logged.push({ msg, ...(fields ? { fields } : {}) }),
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  cleanup.push(async () => {
    await transport.close();
    await new Promise((r) => server.close(r));
  });
  return { url, events, internal, logged };
}

function client(url: string): WsContractClient {
  const c = new WsContractClient(new WebSocket(url) as unknown as WebSocketLike);
  cleanup.push(async () => c.close());
  return c;
}

/** Sends raw text and resolves with the next frame the server answers. */
async function raw(url: string, text: string | Buffer): Promise<unknown> {
  const ws = new WebSocket(url);
  cleanup.push(async () => ws.close());
  await new Promise((r) => ws.once('open', r));
  const reply = new Promise<unknown>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
  ws.send(text);
  return reply;
}

/** A promise and the callback that resolves it (what a listener calls when its event arrives). */
function arrival(): { seen: Promise<void>; arrived: () => void } {
  let arrived!: () => void;
  const seen = new Promise<void>((r) => (arrived = r));
  return { seen, arrived };
}

describe('the WebSocket transport on 127.0.0.1', () => {
  it('answers a call with its result', async () => {
    const { url } = await serve();
    expect(await client(url).call('app:info')).toEqual({ name: 'Tessera', version: '9.9.9', platform: 'test' });
  });

  it('rethrows a declared error as ContractCallError with its code', async () => {
    const { url } = await serve();
    const err = await client(url)
      .call('node:leave')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractCallError);
    expect(err).toMatchObject({ code: 'NOT_JOINED', message: 'the node has not joined a market' });
  });

  it('maps an unexpected failure to INTERNAL without its detail, and logs it with the stack on the node side', async () => {
    const { url, logged, internal } = await serve();
    const err = await client(url)
      .call('node:pause')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL' });
    expect((err as Error).message).not.toContain('/secret/path');
    expect(internal).toHaveLength(1);
    expect(logged).toEqual([
      expect.objectContaining({
        msg: 'contract call failed',
        fields: expect.objectContaining({ channel: 'node:pause', stack: expect.stringContaining('disk I/O error') }),
      }),
    ]);
  });

  it('answers bad arguments and unknown channels with their codes', async () => {
    const { url } = await serve();
    const c = client(url);
    await expect(c.call('jobs:list', { limit: -3 })).rejects.toMatchObject({ code: 'BAD_ARGUMENTS' });
    await expect((c.call as (ch: string) => Promise<unknown>)('db:exec')).rejects.toMatchObject({
      code: 'UNKNOWN_CHANNEL',
    });
  });

  it('delivers events to subscribers only, and not after unsubscribe', async () => {
    const { url, events } = await serve();
    const a = client(url);
    const b = client(url);
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    const atA = arrival();
    const atB = arrival();
    const offA = a.on('node:status', (s) => {
      gotA.push(s);
      atA.arrived();
    });
    b.on('log:line', (l) => {
      gotB.push(l);
      atB.arrived();
    });
    await a.call('app:info');
    await b.call('app:info');
    events.emit('node:status', { ...status, running: 1 });
    await atA.seen;
    expect(gotA).toEqual([{ ...status, running: 1 }]);
    offA();
    await a.call('app:info'); // the unsubscribe frame is read before this call's answer
    events.emit('node:status', { ...status, running: 2 });
    events.emit('log:line', { time: 1, level: 'info', msg: 'hello', module: null, fields: {} });
    await atB.seen;
    await a.call('app:info');
    expect(gotA).toHaveLength(1);
    expect(gotB).toEqual([{ time: 1, level: 'info', msg: 'hello', module: null, fields: {} }]);
  });

  it('sends an event only to sockets subscribed to it, and stops after the client unsubscribes', async () => {
    const { url, events } = await serve();
    const socket = new WebSocket(url);
    const frames: { type: string; event?: string }[] = [];
    const firstEvent = arrival();
    socket.on('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; event?: string };
      frames.push(f);
      if (f.type === 'event') firstEvent.arrived();
    });
    const c = new WsContractClient(socket as unknown as WebSocketLike);
    cleanup.push(async () => c.close());
    const bystander = new WebSocket(url);
    const bystanderFrames: unknown[] = [];
    bystander.on('message', (d) => bystanderFrames.push(JSON.parse(String(d))));
    cleanup.push(async () => bystander.close());
    await new Promise((r) => bystander.once('open', r));
    const off = c.on('node:status', () => undefined);
    await c.call('app:info');
    events.emit('node:status', status);
    events.emit('log:line', { time: 1, level: 'info', msg: 'not subscribed', module: null, fields: {} });
    await firstEvent.seen;
    off();
    await c.call('app:info');
    events.emit('node:status', status);
    await c.call('app:info');
    expect(frames.filter((f) => f.type === 'event')).toEqual([
      { type: 'event', event: 'node:status', payload: status },
    ]);
    expect(bystanderFrames).toEqual([]);
  });

  it('answers malformed frames with BAD_FRAME and keeps serving', async () => {
    const { url } = await serve();
    expect(await raw(url, '{not json')).toMatchObject({
      type: 'result',
      id: null,
      ok: false,
      error: { code: 'BAD_FRAME' },
    });
    expect(await raw(url, JSON.stringify({ type: 'call', id: 4, channel: 'app:info' }))).toMatchObject({
      type: 'result',
      id: 4,
      ok: false,
      error: { code: 'BAD_FRAME' },
    });
    expect(await raw(url, JSON.stringify({ type: 'subscribe', event: 'everything' }))).toMatchObject({
      ok: false,
      error: { code: 'BAD_FRAME' },
    });
    expect(await raw(url, Buffer.from([1, 2, 3]))).toMatchObject({ ok: false, error: { code: 'BAD_FRAME' } });
    expect(await raw(url, JSON.stringify(null))).toMatchObject({ ok: false, error: { code: 'BAD_FRAME' } });
    expect(await client(url).call('node:status')).toEqual(status);
  });

  it('refuses the upgrade when the verifyClient hook says no', async () => {
    const { url } = await serve({ verifyClient: (req) => req.headers['x-token'] === 'yes' });
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
      ws.on('open', () => resolve('opened'));
      ws.on('error', () => undefined);
    });
    expect(refused).toBe('http 401');
    const ok = new WsContractClient(new WebSocket(url, { headers: { 'x-token': 'yes' } }) as unknown as WebSocketLike);
    cleanup.push(async () => ok.close());
    expect(await ok.call('app:info')).toMatchObject({ version: '9.9.9' });
  });

  it('fails pending calls with TRANSPORT_CLOSED when the socket closes', async () => {
    const { url } = await serve();
    const c = client(url);
    await c.call('app:info');
    const p = c.call('app:info');
    c.close();
    await expect(p).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
  });
});
