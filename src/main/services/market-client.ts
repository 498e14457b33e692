import WebSocket from 'ws';
import { errorMessage } from '../../core/errors.js';
import type { LookupFunction } from 'node:net';
import {
  CLOSE_CODES,
  MAX_MARKET_FRAME_BYTES,
  MarketFrame,
  parseFrame,
  authSigningBytes,
  MARKET_PROTOCOL_VERSION,
  type ProviderFrame,
} from '../../shared/market-protocol.js';
import type { Clock } from '../../core/clock.js';
import { errorFields, silentLogger, type Logger } from '../../node/log.js';
import { checkLivenessTimings, SocketLiveness, type LivenessHandle } from '../../node/socket-liveness.js';
import {
  describeEndpoint,
  MarketEndpoints,
  type EndpointChoice,
  type BackoffOptions,
  type HostResolver,
  type MarketEndpoint,
} from './market-endpoints.js';

export {
  DEFAULT_BACKOFF,
  fullJitterDelay,
  providerSocketUrl,
  type BackoffOptions,
  type HostResolver,
  type MarketEndpoint,
} from './market-endpoints.js';

/** When the node gives up on a connection that answers nothing (docs/market-api.md, "Liveness"). */
export interface MarketLivenessOptions {
  /** Ping the market after this long without a frame from it, ms. */
  pingMs: number;
  /** Drop the connection after this long without anything from the market (its ping unanswered), ms. */
  deadMs: number;
  /** Connect, challenge, auth and welcome must be done within this long, ms; else the attempt is dropped and retried. */
  handshakeMs: number;
}

export const DEFAULT_MARKET_LIVENESS: MarketLivenessOptions = { pingMs: 15_000, deadMs: 45_000, handshakeMs: 20_000 };

export type MarketClientState = 'connecting' | 'authenticating' | 'connected' | 'disconnected' | 'closed';

/** Why a connection attempt ended before (or after) the market's welcome: what Diagnostics explains. */
export interface MarketFailure {
  /** The WebSocket close code (1006: no close frame, e.g. the market could not be reached). */
  closeCode: number;
  /** The market's close reason or error frame code, when it gave one. */
  reason: string | null;
  /** The HTTP status that refused the socket upgrade (401/403: an access token in the URL is wrong), else null. */
  httpStatus: number | null;
  /** The socket error, when there was one (e.g. "connect ECONNREFUSED 127.0.0.1:8080"). */
  error: string | null;
  /** Set when this node refused the market (e.g. MARKET_KEY_CHANGED): it does not reconnect until a person acts. */
  refusal?: MarketRefusal;
}

export interface MarketClientDeps {
  /**
   * The market's URLs (`ws://host:port` or `http://host:port`; `/ws/provider` is appended), in
   * the order they are tried; a string may hold several, separated by commas.
   */
  url: string | readonly string[];
  /** The node key: raw public key hex and an Ed25519 signer. */
  signer: { readonly nodeId: string; sign(data: Uint8Array): string };
  /** The capabilities frame announced after auth (read at each connect). */
  capabilities: () => Extract<ProviderFrame, { type: 'capabilities' }>;
  onFrame: (frame: Exclude<MarketFrame, { type: 'challenge' }>) => void;
  /**
   * Checks the market's welcome before the session counts as connected (the node pins the
   * market's key here). A refusal closes the socket and stops reconnecting: the node refuses
   * that market until a person acts on the message.
   */
  checkWelcome?: (
    welcome: Extract<MarketFrame, { type: 'welcome' }>,
    market: { marketId: string; practice: boolean },
  ) => MarketRefusal | undefined;
  onState?: (state: MarketClientState, detail?: string) => void;
  backoff?: BackoffOptions;
  /** Uniform in [0, 1): the backoff and failover jitter (seeded in tests). */
  random?: () => number;
  /** Resolves a market's host name to its addresses at each connect attempt (default: dns.promises.lookup, all addresses). */
  resolve?: HostResolver;
  logger?: Logger;
  /** Liveness timings (default DEFAULT_MARKET_LIVENESS). */
  liveness?: Partial<MarketLivenessOptions>;
  /** The time the liveness timings are measured in (default: wall time); a test moves it and calls checkLivenessNow. */
  clock?: Clock;
}

/** Why the node refused a market (a stable code and a one-line message saying what to do). */
export interface MarketRefusal {
  code: string;
  message: string;
}

/**
 * The provider's connection to a market: answers the signed challenge, announces capabilities,
 * hands every later frame (parsed with the protocol schema) to `onFrame`, and after any
 * disconnect fails over to the market's next endpoint (MarketEndpoints: the configured URLs, each
 * DNS address, the instances a welcome named) with jittered backoff until `close`.
 */
export class MarketClient {
  private ws: WebSocket | undefined;
  private stateValue: MarketClientState = 'disconnected';
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Bumped by start and close: a choice made for an earlier run is dropped. */
  private run = 0;
  private marketIdValue: string | undefined;
  /** The market id of the first welcome: every endpoint must serve this market. */
  private welcomedMarketId: string | undefined;
  private practiceValue = false;
  private failure: MarketFailure | null = null;
  private socketError: string | null = null;
  private refusalValue: MarketRefusal | undefined;
  private readonly endpoints: MarketEndpoints;
  /** The endpoint of the attempt under way (or of the welcomed connection). */
  private current: MarketEndpoint | undefined;
  private readonly logger: Logger;
  private readonly livenessOptions: MarketLivenessOptions;
  private readonly clock: Clock;
  /** Ping/pong over the welcomed connection. */
  private readonly liveness: SocketLiveness;
  private live: LivenessHandle | undefined;
  /** When the current attempt must have been welcomed by; undefined once it was. */
  private handshakeDeadline: number | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private readonly heardListeners = new Set<() => void>();
  private readonly stateListeners = new Set<(state: MarketClientState, detail?: string) => void>();
  private readonly connectListeners = new Set<(endpoint: MarketEndpoint) => void>();

  constructor(private readonly deps: MarketClientDeps) {
    this.logger = deps.logger ?? silentLogger;
    this.endpoints = new MarketEndpoints({
      urls: typeof deps.url === 'string' ? [deps.url] : deps.url,
      ...(deps.backoff ? { backoff: deps.backoff } : {}),
      ...(deps.random ? { random: deps.random } : {}),
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
      onResolveError: (host, err) =>
        this.logger.warn('could not resolve a market host name; connecting by name', {
          host,
          error: errorMessage(err),
        }),
    });
    this.clock = deps.clock ?? { now: () => Date.now() };
    this.livenessOptions = { ...DEFAULT_MARKET_LIVENESS, ...deps.liveness };
    checkLivenessTimings(this.livenessOptions, { pingMs: 'liveness.pingMs', deadMs: 'liveness.deadMs' });
    if (!Number.isSafeInteger(this.livenessOptions.handshakeMs) || this.livenessOptions.handshakeMs < 1)
      throw new RangeError(
        `liveness.handshakeMs must be a whole number of ms ≥ 1 (got ${this.livenessOptions.handshakeMs})`,
      );
    this.liveness = new SocketLiveness(
      this.livenessOptions,
      () => this.clock.now(),
      (err) => this.logger.error('market liveness check failed', errorFields(err)),
    );
  }

  get state(): MarketClientState {
    return this.stateValue;
  }

  /** The market id from the latest challenge. */
  get marketId(): string | undefined {
    return this.marketIdValue;
  }

  get practice(): boolean {
    return this.practiceValue;
  }

  /** Why the last attempt ended, until the market welcomes this node again; null while none failed. */
  get lastFailure(): MarketFailure | null {
    return this.failure;
  }

  /** Why this node refused the market (it stopped reconnecting), if it did. */
  get refusal(): MarketRefusal | undefined {
    return this.refusalValue;
  }

  /** The endpoint connected to (or being tried now); undefined before the first attempt. */
  get endpoint(): MarketEndpoint | undefined {
    return this.current;
  }

  /** The endpoint in use, as status shows it ("http://m.example:8080 (10.0.0.2)"); null before the first attempt. */
  get endpointLabel(): string | null {
    return this.current ? describeEndpoint(this.current) : null;
  }

  /** Every endpoint the client may use now: the configured URLs (each DNS address), then the learned instances. */
  listEndpoints(): Promise<MarketEndpoint[]> {
    return this.endpoints.list();
  }

  /** The instance URLs learned from the latest welcome that named any (never stored). */
  get learnedUrls(): string[] {
    return this.endpoints.learned;
  }

  start(): void {
    this.stopped = false;
    this.refusalValue = undefined;
    if (!this.livenessTimer) {
      const o = this.livenessOptions;
      const every = Math.max(50, Math.floor(Math.min(o.pingMs, o.deadMs - o.pingMs, o.handshakeMs) / 3));
      this.livenessTimer = setInterval(() => this.checkLivenessNow(), every);
      this.livenessTimer.unref();
    }
    this.setState('connecting');
    this.scheduleConnect(true);
  }

  /**
   * One liveness pass (its timer runs it a few times per ping interval; a test calls it after
   * moving the clock): an attempt not welcomed within `handshakeMs` is dropped; a welcomed
   * connection silent for `pingMs` is pinged, and dropped when nothing has come back `deadMs`
   * after the last frame. A dropped connection fails over with the usual backoff.
   */
  checkLivenessNow(): void {
    const ws = this.ws;
    if (!ws || this.stopped) return;
    if (this.handshakeDeadline !== undefined && this.clock.now() >= this.handshakeDeadline) {
      this.abandon(
        ws,
        `the market did not complete the handshake (connect, challenge, welcome) within ${this.livenessOptions.handshakeMs / 1000} s`,
      );
      return;
    }
    this.liveness.checkNow();
  }

  /** Sends a frame if connected; false when it could not be sent (the caller keeps it for later). */
  send(frame: ProviderFrame): boolean {
    if (this.stateValue !== 'connected' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** A test signal: `listener` hears every frame, ping and pong from the market. Returns the unsubscribe. */
  onDidHearMarket(listener: () => void): () => void {
    this.heardListeners.add(listener);
    return () => this.heardListeners.delete(listener);
  }

  /** `listener` hears every change of state (after `onState`). Returns the unsubscribe. */
  onDidChangeState(listener: (state: MarketClientState, detail?: string) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** `listener` hears each welcome, with the endpoint it came through. Returns the unsubscribe. */
  onDidConnect(listener: (endpoint: MarketEndpoint) => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** Closes the socket and stops reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
    this.run++;
    if (this.timer) clearTimeout(this.timer);
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
    this.stopLiveness();
    const ws = this.ws;
    this.setState('closed');
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(CLOSE_CODES.normal, 'provider stopping');
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000).unref();
    });
  }

  /** Drops the connection as a network failure would (tests); the client fails over. */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private stopLiveness(): void {
    this.live?.untrack();
    this.live = undefined;
    this.handshakeDeadline = undefined;
  }

  /**
   * Gives up on a connection that answers nothing (see checkLivenessNow): it stops counting as
   * connected at once, the socket is destroyed without waiting for a close handshake that cannot
   * come, and the next attempt follows the usual backoff.
   */
  private abandon(ws: WebSocket, why: string): void {
    this.logger.warn('market connection is not answering; failing over', {
      reason: why,
      endpoint: this.endpointLabel,
    });
    this.ws = undefined;
    this.stopLiveness();
    this.failure = { closeCode: 1006, reason: null, httpStatus: null, error: why };
    this.setState('disconnected', why);
    this.scheduleReconnect();
    ws.terminate();
  }

  /** The attempt on the current endpoint failed (or its connection dropped): it rests, and the next endpoint is chosen. */
  private scheduleReconnect(): void {
    if (this.current) this.endpoints.failed(this.current, this.clock.now());
    this.scheduleConnect(false);
  }

  /**
   * Chooses the endpoint to try next (resolving host names now) and connects to it after the
   * chosen pause; the first attempt of `start` opens its socket at once when no name needs resolving.
   */
  private scheduleConnect(first: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const run = ++this.run;
    const go = ({ endpoint, delayMs }: EndpointChoice): void => {
      if (this.stopped || run !== this.run) return;
      if (first && delayMs <= 0) {
        this.connect(endpoint);
        return;
      }
      this.timer = setTimeout(() => this.connect(endpoint), Math.max(0, delayMs));
      this.timer.unref?.();
    };
    const now = this.endpoints.chooseNow(this.clock.now(), first);
    if (now) {
      go(now);
      return;
    }
    this.endpoints.choose(this.clock.now(), first).then(go, (err: unknown) => {
      // Not expected (a resolver failure leaves the URL as one endpoint): try again after the cap.
      this.logger.error('could not choose a market endpoint', errorFields(err));
      if (this.stopped || run !== this.run) return;
      this.timer = setTimeout(() => this.scheduleConnect(false), this.deps.backoff?.capMs ?? 30_000);
      this.timer.unref?.();
    });
  }

  /** Stops talking to a market this node refuses: logs the code and message, closes, and does not reconnect. */
  private refuse(ws: WebSocket, refusal: MarketRefusal): void {
    this.refusalValue = refusal;
    this.failure = { closeCode: CLOSE_CODES.normal, reason: refusal.code, httpStatus: null, error: null, refusal };
    this.stopped = true;
    this.stopLiveness();
    this.logger.error(refusal.message, { code: refusal.code, market_id: this.marketIdValue });
    this.ws = undefined;
    ws.close(CLOSE_CODES.normal, refusal.code);
    this.setState('closed', `${refusal.code}: ${refusal.message}`);
  }

  private setState(s: MarketClientState, detail?: string): void {
    this.stateValue = s;
    this.deps.onState?.(s, detail);
    for (const l of [...this.stateListeners]) l(s, detail);
  }

  private connect(endpoint: MarketEndpoint): void {
    if (this.stopped) return;
    this.current = endpoint;
    if (this.stateValue !== 'connecting') this.setState('connecting');
    this.socketError = null;
    this.stopLiveness();
    this.handshakeDeadline = this.clock.now() + this.livenessOptions.handshakeMs;
    // A name with several addresses is pinned to this endpoint's one; the URL keeps the name, so
    // the Host header and the TLS server name stay the market's.
    const options: WebSocket.ClientOptions & { lookup?: LookupFunction } = {
      maxPayload: MAX_MARKET_FRAME_BYTES,
      ...(endpoint.address !== null ? { lookup: pinnedLookup(endpoint.address, endpoint.family ?? 4) } : {}),
    };
    const ws = new WebSocket(endpoint.socketUrl, options);
    this.ws = ws;
    // Anything from the market shows the connection is alive: a frame, its ping, the pong to ours.
    const heard = (): void => {
      if (this.ws !== ws) return;
      this.live?.heard();
      for (const l of [...this.heardListeners]) l();
    };
    ws.on('ping', heard);
    ws.on('pong', heard);
    ws.on('message', (data: WebSocket.RawData) => {
      if (this.ws !== ws) return; // a socket this client let go of (a refused market, a dead connection)
      heard();
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as Buffer).toString('utf8');
      const parsed = parseFrame(MarketFrame, text);
      if (!parsed.ok) {
        this.logger.warn('market sent a frame this node does not understand; reconnecting', { error: parsed.message });
        ws.terminate();
        return;
      }
      const f = parsed.frame;
      if (f.type === 'challenge') {
        // Every endpoint must be the same market: an instance URL that serves another one is dropped.
        if (this.welcomedMarketId !== undefined && f.market_id !== this.welcomedMarketId) {
          if (endpoint.source === 'learned') this.endpoints.forget(endpoint.url);
          this.abandon(
            ws,
            `${describeEndpoint(endpoint)} is market ${f.market_id}, not ${this.welcomedMarketId}; not using it`,
          );
          return;
        }
        this.marketIdValue = f.market_id;
        this.practiceValue = f.practice;
        this.setState('authenticating');
        ws.send(
          JSON.stringify({
            type: 'auth',
            version: MARKET_PROTOCOL_VERSION,
            public_key: this.deps.signer.nodeId,
            signature: this.deps.signer.sign(authSigningBytes(f.market_id, f.nonce)),
          }),
        );
        ws.send(JSON.stringify(this.deps.capabilities()));
        return;
      }
      if (f.type === 'welcome') {
        const refusal = this.deps.checkWelcome?.(f, {
          marketId: this.marketIdValue ?? '',
          practice: this.practiceValue,
        });
        if (refusal) {
          this.refuse(ws, refusal);
          return;
        }
        this.welcomedMarketId ??= this.marketIdValue;
        this.endpoints.succeeded(endpoint);
        if (f.instances !== undefined) this.learnInstances(f.instances);
        this.failure = null;
        this.handshakeDeadline = undefined;
        this.live = this.liveness.track({
          ping: () => {
            if (ws.readyState === WebSocket.OPEN) ws.ping();
          },
          dead: (silentMs) => {
            if (this.ws === ws)
              this.abandon(
                ws,
                `nothing from the market for ${Math.round(silentMs / 1000)} s (a ping went unanswered); the connection is dead`,
              );
          },
        });
        this.logger.info('market welcomed this node', { endpoint: describeEndpoint(endpoint) });
        this.setState('connected');
        for (const l of [...this.connectListeners]) l(endpoint);
      }
      this.deps.onFrame(f);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.stopLiveness();
      if (this.stopped) return;
      const detail = `closed ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`;
      // ws reports a refused upgrade as "Unexpected server response: 401".
      const http = /Unexpected server response: (\d{3})/.exec(this.socketError ?? '');
      this.failure = {
        closeCode: code,
        reason: reason.length > 0 ? reason.toString() : null,
        httpStatus: http ? Number(http[1]) : null,
        error: this.socketError,
      };
      this.setState('disconnected', detail);
      if (code === CLOSE_CODES.refused) {
        this.logger.error('the market refused this provider (too many wrong results); not reconnecting', {});
        this.stopped = true;
        return;
      }
      this.scheduleReconnect();
    });
    ws.on('error', (err: Error) => {
      if (this.ws === ws) this.socketError = err.message;
      this.logger.warn('market connection error', { error: err.message, endpoint: describeEndpoint(endpoint) });
    });
  }

  /** Adds the instances a welcome named to the endpoints (after the configured ones; never stored). */
  private learnInstances(urls: readonly string[]): void {
    const refused = this.endpoints.learn(urls);
    for (const r of refused) this.logger.warn('market instance URL not used', { url: r.url.slice(0, 200), why: r.why });
    if (this.endpoints.learned.length > 0)
      this.logger.info('market instances learned', { instances: this.endpoints.learned });
  }
}

/** A `lookup` for net.connect that answers one fixed address (both the single-answer and the `all` form). */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
}
