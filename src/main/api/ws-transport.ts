import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type VerifyClientCallbackSync, type WebSocket } from 'ws';
import { z } from 'zod';
import {
  dispatchContractCall,
  events as eventSchemas,
  MAX_CONTRACT_FRAME_BYTES,
  type CallEnvelope,
  type ContractHandlers,
  type EventName,
} from '../../shared/contract.js';
import { errorFields, silentLogger, type Logger } from '../../node/log.js';
import type { AppEvents } from './events.js';

/** Frames the UI sends: a call, or a (un)subscription to an event. */
export const ClientFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('call'),
    id: z.number().int().nonnegative(),
    channel: z.string().max(100),
    args: z.array(z.unknown()).max(16),
  }),
  z.object({ type: z.literal('subscribe'), event: z.string().max(100) }),
  z.object({ type: z.literal('unsubscribe'), event: z.string().max(100) }),
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

/** Frames the node sends: a call's envelope (by id; id null when the frame could not be read) or an event. */
export type ServerFrame =
  ({ type: 'result'; id: number | null } & CallEnvelope) | { type: 'event'; event: EventName; payload: unknown };

export interface WsTransportDeps {
  handlers: ContractHandlers;
  events: AppEvents;
  logger?: Logger;
  /** Path the socket is served on (default /api). */
  path?: string;
  /** Access check for each upgrade (headless mode: token or cookie, and Origin). Absent: everyone on the socket. */
  verifyClient?: (req: IncomingMessage) => boolean;
  /** Largest frame accepted, bytes (default MAX_CONTRACT_FRAME_BYTES: a courier:send of the largest bundle). */
  maxPayload?: number;
}

const eventNames = new Set<string>(Object.keys(eventSchemas));

/**
 * The app contract over a WebSocket attached to an HTTP server: calls answer with the same
 * envelope as IPC; events go to the sockets subscribed to them. A malformed frame is answered
 * with a BAD_FRAME envelope, never by closing the server.
 */
export class WsTransport {
  private readonly wss: WebSocketServer;
  private readonly logger: Logger;
  private readonly unsubscribe: () => void;
  private readonly subscriptions = new Map<WebSocket, Set<string>>();

  constructor(
    server: Server,
    private readonly deps: WsTransportDeps,
  ) {
    this.logger = deps.logger ?? silentLogger;
    const verify = deps.verifyClient;
    const verifyClient: VerifyClientCallbackSync | undefined = verify ? (info) => verify(info.req) : undefined;
    this.wss = new WebSocketServer({
      server,
      path: deps.path ?? '/api',
      maxPayload: deps.maxPayload ?? MAX_CONTRACT_FRAME_BYTES,
      ...(verifyClient ? { verifyClient } : {}),
    });
    this.wss.on('connection', (ws) => this.onConnection(ws));
    this.wss.on('error', (err) => this.logger.error('websocket server error', { error: err.message }));
    this.unsubscribe = deps.events.onDidEmit((event, payload) => this.broadcast(event, payload));
  }

  /** Closes every socket and stops listening for events (the HTTP server is the caller's). */
  async close(): Promise<void> {
    this.unsubscribe();
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket): void {
    this.subscriptions.set(ws, new Set());
    ws.on('close', () => this.subscriptions.delete(ws));
    ws.on('error', (err) => this.logger.warn('websocket client error', { error: err.message }));
    ws.on('message', (data, isBinary) => {
      void this.onMessage(ws, isBinary ? null : data.toString());
    });
  }

  private async onMessage(ws: WebSocket, text: string | null): Promise<void> {
    let frame: ClientFrame;
    try {
      if (text === null) throw new Error('binary frame');
      const parsed = ClientFrameSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid frame');
      frame = parsed.data;
    } catch (err) {
      const id = idOf(text);
      this.send(ws, {
        type: 'result',
        id,
        ok: false,
        error: {
          code: 'BAD_FRAME',
          message: `malformed frame: ${err instanceof Error ? err.message.split('\n')[0] : 'unreadable'}`,
        },
      });
      return;
    }
    if (frame.type === 'call') {
      const env = await dispatchContractCall(this.deps.handlers, frame.channel, frame.args, {
        onInternal: (err, channel) => this.logger.error('contract call failed', { channel, ...errorFields(err) }),
      });
      this.send(ws, { type: 'result', id: frame.id, ...env });
      return;
    }
    const subs = this.subscriptions.get(ws);
    if (!subs) return;
    if (!eventNames.has(frame.event)) {
      this.send(ws, {
        type: 'result',
        id: null,
        ok: false,
        error: { code: 'BAD_FRAME', message: `unknown event "${frame.event.slice(0, 80)}"` },
      });
      return;
    }
    if (frame.type === 'subscribe') subs.add(frame.event);
    else subs.delete(frame.event);
  }

  private broadcast(event: EventName, payload: unknown): void {
    for (const [ws, subs] of this.subscriptions) if (subs.has(event)) this.send(ws, { type: 'event', event, payload });
  }

  private send(ws: WebSocket, frame: ServerFrame): void {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify(frame, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  }
}

/** The call id of a frame that failed validation, when it has a readable one. */
function idOf(text: string | null): number | null {
  if (text === null) return null;
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : null;
  } catch {
    return null;
  }
}
