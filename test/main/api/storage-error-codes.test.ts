import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AppEvents } from '../../../src/main/api/events.js';
import { WsTransport } from '../../../src/main/api/ws-transport.js';
import { StorageError } from '../../../src/main/db/errors.js';
import { sinkLogger, type LogRecord } from '../../../src/node/log.js';
import { WsContractClient, type WebSocketLike } from '../../../src/shared/ws-contract-client.js';
import { CHANNELS, ContractCallError, type ContractHandlers } from '../../../src/shared/contract.js';

// A storage problem is something a person fixes (close the other Tessera, free disk space), so its
// code and one-line advice reach the UI instead of "internal error".
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('storage errors over the contract', () => {
  it('a handler throwing StorageError(DB_LOCKED) reaches the WebSocket caller as DB_LOCKED with its message, not INTERNAL, and is not logged as internal', async () => {
    const message = 'ledger.db in /tmp/x is locked by another process; close the other Tessera and try again';
    const handlers = {
      ...Object.fromEntries(
        CHANNELS.map((c) => [
          c,
          () => {
            throw new Error(`no ${c} in this test`);
          },
        ]),
      ),
      'node:pause': () => {
        throw new StorageError('DB_LOCKED', `${message}\nSQLITE_BUSY: database is locked`, {
          sqliteCode: 'SQLITE_BUSY',
        });
      },
    } as unknown as ContractHandlers;
    const logged: LogRecord[] = [];
    const server: Server = createServer((_req, res) => res.writeHead(404).end());
    const transport = new WsTransport(server, {
      handlers,
      events: new AppEvents(),
      logger: sinkLogger((r) => logged.push(r)),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = new WsContractClient(
      new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/api`) as unknown as WebSocketLike,
    );
    cleanup.push(async () => {
      c.close();
      await transport.close();
      await new Promise((r) => server.close(r));
    });
    const err = await c.call('node:pause').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractCallError);
    expect(err).toMatchObject({ code: 'DB_LOCKED', message });
    expect(logged.filter((l) => l.level === 'error')).toEqual([]);
  });
});
