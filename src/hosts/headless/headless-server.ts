import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { TesseraError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { LocalMarketThreadOptions } from '../../market/local-market-thread.js';
import type { AppInfo, MarketTarget } from '../../shared/contract.js';
import { marketUrlValue, parseMarketUrls } from '../../shared/market-urls.js';
import type { AppService } from '../../main/api/app-service.js';
import { startAppHost } from '../app-host.js';
import { LogBuffer } from '../../main/api/log-buffer.js';
import { WsTransport } from '../../main/api/ws-transport.js';
import type { ComputeChannel } from '../../main/gpu/compute-client.js';
import { openDawnChannel } from '../../main/gpu/dawn-host.js';
import { DisposableStore } from '../../node/lifecycle.js';
import { systemClock } from '../../node/clock.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { AccessPolicy, isLoopbackHost, loadOrCreateToken } from './access.js';
import { ConfSettingsStore } from './conf-settings-store.js';
import { checkRendererDir, lookupStatic, SECURITY_HEADERS, sendStatic } from './static-files.js';

/** Default port of `tessera headless`. */
export const DEFAULT_HEADLESS_PORT = 7420;

export interface HeadlessOptions {
  /** 0: any free port. */
  port: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  dataDir: string;
  /**
   * The market to provide to: its URL, or the URLs of several instances of it (each may be a
   * comma-separated list, as `--market` takes them); absent: the market_url setting, else the
   * in-process practice market.
   */
  market?: string | readonly string[];
  /** Join the market at start (the CLI's default; `--no-join` turns it off). */
  join: boolean;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  clock?: Clock;
  logger?: Logger;
  info?: AppInfo;
  /** Open the Dawn GPU host (default: the gpu_enabled setting). */
  gpu?: boolean;
  /** Overrides for the in-process practice market (tests keep its store in memory). */
  practiceMarket?: Partial<LocalMarketThreadOptions>;
  /** How often the schedule_hours setting is re-checked (default 30 s). */
  scheduleCheckMs?: number;
  /** Overrides config.toml's metrics_port (0: no /metrics endpoint). */
  metricsPort?: number;
  /** Local hour of a time, for the schedule (default: the system time zone). */
  localHour?: (nowMs: number) => number;
  /** Test hook: the GPU host to open instead of Dawn. */
  openGpuHost?: () => ComputeChannel;
}

export interface HeadlessServer {
  /** The ready-to-open URL, with the token. */
  url: string;
  /** http://host:port (no token). */
  origin: string;
  port: number;
  token: string;
  tokenPath: string;
  node: AppService;
  /** Settles when the join at start is done (at once with `join: false`); a failed join is logged, not thrown. */
  joined: Promise<void>;
  /** Stops taking jobs, finishes or reports the ones in flight, stops the practice market, saves the price board, closes the ledger; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Headless mode: the node and the app's handler table without Electron. One node:http server
 * serves the built renderer and the contract over a WebSocket at /api, behind the token /
 * cookie / Origin rules of AccessPolicy. With no market configured it runs the practice market
 * in this process.
 */
export async function startHeadless(o: HeadlessOptions): Promise<HeadlessServer> {
  const host = o.host ?? '127.0.0.1';
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? silentLogger;
  // What the user typed is checked first, then what the build must provide.
  const marketUrls = o.market === undefined ? undefined : parseMarketUrls(o.market, '--market');
  const rendererRoot = checkRendererDir(o.rendererDir);
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const settings = new ConfSettingsStore(dataDir);
  const { token, path: tokenPath } = loadOrCreateToken(dataDir);
  const useGpu = o.gpu ?? settings.get().gpu_enabled;
  const openGpuHost = o.openGpuHost ?? (useGpu ? () => openDawnChannel() : null);
  // What to join at start (when joining): --market, else the market_url setting, else the practice market.
  const marketUrl = marketUrls === undefined ? settings.get().market_url : marketUrlValue(marketUrls);
  const target: MarketTarget | null = !o.join
    ? null
    : marketUrl !== null
      ? { kind: 'url', url: marketUrl }
      : { kind: 'practice' };
  const store = new DisposableStore('headless server', logger);
  try {
    const logs = new LogBuffer(2000, () => clock.now());
    const { app, handlers } = store.add(
      await startAppHost({
        dataDir,
        settings,
        clock,
        logger,
        logs,
        info: o.info ?? { name: 'Tessera', version: '0.0.0', platform: process.platform },
        headless: true,
        openGpuHost,
        metricsPort: o.metricsPort ?? null,
        practiceMarket: o.practiceMarket ?? {},
        // Joining the practice market at start: it starts beside the node, not after it.
        prestartPractice: target?.kind === 'practice',
        // Headless mode has no idle time or battery to read: of the provide policy, only the schedule applies.
        policy: {
          observe: () => ({ idleSeconds: null, onBattery: false }),
          intervalMs: o.scheduleCheckMs ?? 30_000,
          ...(o.localHour ? { localHour: o.localHour } : {}),
        },
      }),
      'app host',
    );

    let boundPort = 0;
    const access = new AccessPolicy({ token, host, port: () => boundPort });
    const server = createServer((req, res) => handleRequest(req, res, access, rendererRoot));
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.maxConnections = 256;
    const transport = new WsTransport(server, {
      handlers,
      events: app.events,
      logger,
      verifyClient: (req) => access.socketAllowed(req),
    });
    store.add(async () => {
      await transport.close();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    }, 'HTTP server');
    boundPort = await listen(server, o.port, host);
    if (!isLoopbackHost(host)) logger.warn('headless UI reachable from other machines', { host });

    // Joining (the practice market has been starting beside the node) runs after the server listens, so the
    // URL can be opened at once; the UI shows the node connecting meanwhile.
    let joined: Promise<void> = Promise.resolve();
    if (target) {
      joined = app.join(target).then(
        () => undefined,
        (err: unknown) => logger.error('could not join the market', { error: errorMessage(err) }),
      );
      store.add(() => joined, 'join at start');
    }

    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const origin = `http://${shownHost}:${boundPort}`;
    return {
      url: `${origin}/?token=${token}`,
      origin,
      port: boundPort,
      token,
      tokenPath,
      node: app,
      joined,
      close: () => store.dispose(),
    };
  } catch (err) {
    await store.dispose().catch(() => undefined);
    throw err;
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(
          new TesseraError(
            'PORT_IN_USE',
            `port ${port} on ${host} is in use: pick another with --port (0 = any free port)`,
          ),
        );
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new TesseraError('BAD_HOST', `--host ${host} is not an address of this machine`));
      else if (err.code === 'EACCES')
        reject(new TesseraError('PORT_IN_USE', `port ${port} needs privileges: pick one above 1023 with --port`));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}

const UNAUTHORIZED_HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tessera: access needed</title></head><body><h1>Access needed</h1><p>Open the URL printed by <code>tessera headless</code> (it ends with <code>?token=…</code>).</p></body></html>\n';

function sendError(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  const wantsHtml = status === 401 && (req.headers.accept ?? '').includes('text/html');
  const body = wantsHtml ? UNAUTHORIZED_HTML : `${JSON.stringify({ error: message })}\n`;
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': wantsHtml ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** One HTTP request: access first (401 without a token or cookie), then the token → cookie exchange, then a static file. */
function handleRequest(req: IncomingMessage, res: ServerResponse, policy: AccessPolicy, root: string): void {
  const access = policy.check(req);
  if (!access.ok) {
    if (access.reason === 'bad-host')
      sendError(req, res, 400, 'unknown Host header: open the URL printed by tessera headless');
    else sendError(req, res, 401, 'open the URL printed by tessera headless (it ends with ?token=…)');
    return;
  }
  // The raw path (not URL-normalised), so a `..` or an encoded one is refused rather than resolved.
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  if (access.via === 'token') {
    const location = rawPath.startsWith('/') && !rawPath.startsWith('//') ? rawPath : '/';
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      location,
      'set-cookie': policy.sessionCookie(),
      'cache-control': 'no-store',
      'content-length': '0',
    });
    res.end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendError(req, res, 405, 'only GET and HEAD');
    return;
  }
  const found = lookupStatic(root, rawPath);
  if (found.kind === 'bad-request') sendError(req, res, 400, 'bad path');
  else if (found.kind === 'not-found') sendError(req, res, 404, 'not found');
  else sendStatic(res, found, req.method === 'HEAD');
}
