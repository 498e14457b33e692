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
import { silentLogger, type Logger } from '../../node/log.js';

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

  constructor(private readonly deps: MarketClientDeps) {
    this.url = providerSocketUrl(deps.url);
    this.logger = deps.logger ?? silentLogger;
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
    this.connect();
  }

  /** Sends a frame if connected; false when it could not be sent (the caller keeps it for later). */
  send(frame: ProviderFrame): boolean {
    if (this.stateValue !== 'connected' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Closes the socket and stops reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
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

  /** Stops talking to a market this node refuses: logs the code and message, closes, and does not reconnect. */
  private refuse(ws: WebSocket, refusal: MarketRefusal): void {
    this.refusalValue = refusal;
    this.failure = { closeCode: CLOSE_CODES.normal, reason: refusal.code, httpStatus: null, error: null, refusal };
    this.stopped = true;
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
    const ws = new WebSocket(this.url, { maxPayload: MAX_MARKET_FRAME_BYTES });
    this.ws = ws;
    ws.on('message', (data: WebSocket.RawData) => {
      if (this.ws !== ws) return; // a socket this client let go of (a refused market)
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
        this.setState('connected');
      }
      this.deps.onFrame(f);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
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
      const delay = fullJitterDelay(
        this.attempt++,
        this.deps.backoff ?? DEFAULT_BACKOFF,
        this.deps.random ?? Math.random,
      );
      this.timer = setTimeout(() => this.connect(), delay);
      this.timer.unref?.();
    });
    ws.on('error', (err: Error) => {
      if (this.ws === ws) this.socketError = err.message;
      this.logger.warn('market connection error', { error: err.message });
    });
  }
}
