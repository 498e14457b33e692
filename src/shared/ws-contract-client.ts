/** The app contract over any WebSocket-like socket: the client half of src/main/api/ws-transport.ts (headless mode, tests). */
import {
  ContractCallError,
  unwrapEnvelope,
  type Channel,
  type ChannelArgs,
  type ChannelResult,
  type EventName,
  type EventPayload,
  type TesseraApi,
} from './contract.js';

/** The part of a WebSocket the client uses (the browser's WebSocket, or `ws` in tests). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
}

const OPEN = 1;

/** The app contract over a WebSocket (headless mode): the same `call` / `on` as `window.tessera`. */
export class WsContractClient implements TesseraApi {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly listeners = new Map<string, Set<(payload: never) => void>>();
  private readonly opened: Promise<void>;
  private closed = false;

  constructor(private readonly socket: WebSocketLike) {
    this.opened = new Promise((resolve, reject) => {
      if (socket.readyState === OPEN) resolve();
      socket.addEventListener('open', () => resolve());
      socket.addEventListener('error', () =>
        reject(new ContractCallError('TRANSPORT_CLOSED', 'could not connect to the Tessera node')),
      );
    });
    this.opened.catch(() => undefined);
    socket.addEventListener('message', (ev) => this.onMessage(ev.data));
    socket.addEventListener('close', () => {
      this.closed = true;
      for (const p of this.pending.values())
        p.reject(new ContractCallError('TRANSPORT_CLOSED', 'the connection to the Tessera node closed'));
      this.pending.clear();
    });
  }

  async call<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>> {
    await this.opened;
    if (this.closed) throw new ContractCallError('TRANSPORT_CLOSED', 'the connection to the Tessera node closed');
    const id = this.nextId++;
    return new Promise<ChannelResult<C>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ type: 'call', id, channel, args }));
    });
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
      void this.opened
        .then(() => this.socket.send(JSON.stringify({ type: 'subscribe', event })))
        .catch(() => undefined);
    }
    const l = listener as (payload: never) => void;
    set.add(l);
    return () => {
      const s = this.listeners.get(event);
      if (!s?.delete(l) || s.size > 0) return;
      this.listeners.delete(event);
      if (this.socket.readyState === OPEN) this.socket.send(JSON.stringify({ type: 'unsubscribe', event }));
    };
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(data: unknown): void {
    let frame: { type?: unknown; id?: unknown; event?: unknown; payload?: unknown };
    try {
      frame = JSON.parse(String(data)) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'event' && typeof frame.event === 'string') {
      for (const l of [...(this.listeners.get(frame.event) ?? [])]) (l as (p: unknown) => void)(frame.payload);
      return;
    }
    if (frame.type !== 'result' || typeof frame.id !== 'number') return;
    const p = this.pending.get(frame.id);
    if (!p) return;
    this.pending.delete(frame.id);
    try {
      p.resolve(unwrapEnvelope(frame));
    } catch (err) {
      p.reject(err);
    }
  }
}
