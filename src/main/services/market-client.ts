import WebSocket from 'ws';
import { TesseraError } from '../../core/errors.js';
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

/** Reconnect delays: capped exponential backoff with full jitter. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 30_000 };

/**
 * Full-jitter backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * delay = random() × min(cap, base × 2^attempt), attempt counting from 0.
 */
export function fullJitterDelay(attempt: number, o: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

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
  /** `ws://host:port` or `http://host:port` of the market; `/ws/provider` is appended. */
  url: string;
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
  random?: () => number;
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

/** The URL of a market's provider socket. */
export function providerSocketUrl(market: string): string {
  let u: URL;
  try {
    u = new URL(market);
  } catch {
    throw new TesseraError(
      'BAD_MARKET_URL',
      `--market ${market} is not a URL; give the market's address, e.g. http://127.0.0.1:8080`,
    );
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new TesseraError('BAD_MARKET_URL', `--market ${market} must be an http://, https://, ws:// or wss:// URL`);
  if (!u.pathname.endsWith('/ws/provider')) u.pathname = `${u.pathname.replace(/\/$/, '')}/ws/provider`;
  return u.toString();
}

/**
 * The provider's connection to a market: answers the signed challenge, announces capabilities,
 * hands every later frame (parsed with the protocol schema) to `onFrame`, and reconnects after
 * any disconnect with capped exponential backoff and full jitter until `close`.
 */
export class MarketClient {
  private ws: WebSocket | undefined;
  private stateValue: MarketClientState = 'disconnected';
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private marketIdValue: string | undefined;
  private practiceValue = false;
  private failure: MarketFailure | null = null;
  private socketError: string | null = null;
  private refusalValue: MarketRefusal | undefined;
  private readonly url: string;
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

  constructor(private readonly deps: MarketClientDeps) {
    this.url = providerSocketUrl(deps.url);
    this.logger = deps.logger ?? silentLogger;
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

  start(): void {
    this.stopped = false;
    this.refusalValue = undefined;
    if (!this.livenessTimer) {
      const o = this.livenessOptions;
      const every = Math.max(50, Math.floor(Math.min(o.pingMs, o.deadMs - o.pingMs, o.handshakeMs) / 3));
      this.livenessTimer = setInterval(() => this.checkLivenessNow(), every);
      this.livenessTimer.unref();
    }
    this.connect();
  }

  /**
   * One liveness pass (its timer runs it a few times per ping interval; a test calls it after
   * moving the clock): an attempt not welcomed within `handshakeMs` is dropped; a welcomed
   * connection silent for `pingMs` is pinged, and dropped when nothing has come back `deadMs`
   * after the last frame. A dropped connection reconnects with the usual backoff.
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

  /** Closes the socket and stops reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
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

  /** Drops the connection as a network failure would (tests); the client reconnects. */
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
    this.logger.warn('market connection is not answering; reconnecting', { reason: why });
    this.ws = undefined;
    this.stopLiveness();
    this.failure = { closeCode: 1006, reason: null, httpStatus: null, error: why };
    this.setState('disconnected', why);
    this.scheduleReconnect();
    ws.terminate();
  }

  private scheduleReconnect(): void {
    const delay = fullJitterDelay(
      this.attempt++,
      this.deps.backoff ?? DEFAULT_BACKOFF,
      this.deps.random ?? Math.random,
    );
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref?.();
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
  }

  private connect(): void {
    if (this.stopped) return;
    this.setState('connecting');
    this.socketError = null;
    this.stopLiveness();
    this.handshakeDeadline = this.clock.now() + this.livenessOptions.handshakeMs;
    const ws = new WebSocket(this.url, { maxPayload: MAX_MARKET_FRAME_BYTES });
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
        this.attempt = 0;
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
        this.setState('connected');
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
      this.logger.warn('market connection error', { error: err.message });
    });
  }
}
