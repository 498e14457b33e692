import type {
  Channel,
  ChannelArgs,
  ChannelResult,
  EventName,
  EventPayload,
  TesseraApi,
  TesseraBridge,
} from '../../../shared/contract.js';
import { bridgeApi, ContractCallError } from '../../../shared/contract.js';
import { WsContractClient } from './ws-client.js';

export { ContractCallError } from '../../../shared/contract.js';

declare global {
  interface Window {
    tessera?: TesseraBridge;
  }
}

/** The transport's state: in Electron always "open"; in headless mode the WebSocket's. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

type Listener = (payload: unknown) => void;

interface Connection {
  client: WsContractClient;
  state: ConnectionState;
  /** One forwarding subscription per event with listeners, on this connection's socket. */
  forwarders: Map<string, () => void>;
}

let conn: Connection | undefined;
const listeners = new Map<string, Set<Listener>>();
const stateListeners = new Set<(s: ConnectionState) => void>();

/** True in the desktop app (the preload's bridge); false in headless mode (a browser tab). */
export function isDesktop(): boolean {
  return window.tessera !== undefined;
}

function setState(c: Connection, state: ConnectionState): void {
  if (c !== conn || c.state === state) return;
  c.state = state;
  for (const l of [...stateListeners]) l(state);
}

function forward(c: Connection, event: string): void {
  if (c.forwarders.has(event)) return;
  const unsubscribe = c.client.on(event as EventName, (payload) => {
    for (const l of [...(listeners.get(event) ?? [])]) l(payload);
  });
  c.forwarders.set(event, unsubscribe);
}

/** Opens the WebSocket to the page's own host (/api); the session cookie from the token URL authenticates it. */
function connect(): Connection {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${scheme}//${window.location.host}/api`);
  // The state listeners go on first, so the state is already "closed" when the client rejects its pending calls.
  const holder: { c?: Connection } = {};
  socket.addEventListener('open', () => holder.c && setState(holder.c, 'open'));
  socket.addEventListener('close', () => holder.c && setState(holder.c, 'closed'));
  const c: Connection = { client: new WsContractClient(socket), state: 'connecting', forwarders: new Map() };
  holder.c = c;
  conn = c;
  for (const event of listeners.keys()) forward(c, event);
  for (const l of [...stateListeners]) l('connecting');
  return c;
}

/** The contract's transport: the Electron preload bridge, else (headless mode) a WebSocket to the page's own host. */
let desktop: { bridge: TesseraBridge; api: TesseraApi } | undefined;

function api(): TesseraApi {
  const bridge = window.tessera;
  if (bridge) {
    if (desktop?.bridge !== bridge) desktop = { bridge, api: bridgeApi(bridge) };
    return desktop.api;
  }
  return (conn ?? connect()).client;
}

/** Calls a contract channel; a failure is a ContractCallError with its stable code. */
export function call<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>> {
  try {
    return api().call(channel, ...args);
  } catch (err) {
    return Promise.reject(
      err instanceof ContractCallError
        ? err
        : new ContractCallError('TRANSPORT_CLOSED', 'Tessera API bridge is not available'),
    );
  }
}

/** Subscribes to a node event; returns the unsubscribe. In headless mode the subscription survives reconnects. */
export function on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
  if (window.tessera) return api().on(event, listener);
  let set = listeners.get(event);
  if (!set) {
    set = new Set();
    listeners.set(event, set);
  }
  const l = listener as Listener;
  set.add(l);
  forward(conn ?? connect(), event);
  return () => {
    const s = listeners.get(event);
    if (!s?.delete(l) || s.size > 0) return;
    listeners.delete(event);
    if (conn) {
      conn.forwarders.get(event)?.();
      conn.forwarders.delete(event);
    }
  };
}

/** The transport's state now. */
export function connectionState(): ConnectionState {
  if (window.tessera) return 'open';
  return (conn ?? connect()).state;
}

/** Listens for transport state changes; returns the unsubscribe. */
export function onConnectionState(listener: (s: ConnectionState) => void): () => void {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

/** Opens a new WebSocket when the last one closed (headless mode); event subscriptions move to it. */
export function reconnect(): void {
  if (window.tessera) return;
  if (!conn || conn.state === 'closed') connect();
}
