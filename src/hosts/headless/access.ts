import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { TesseraError } from '../../core/errors.js';

/** The session cookie the token is exchanged for. */
export const SESSION_COOKIE = 'tessera_session';
/** The token file in the data dir. */
export const TOKEN_FILE = 'headless-token';

const TOKEN_RE = /^[0-9a-f]{64}$/;

/**
 * The access token of headless mode: 32 random bytes as 64 hex characters, stored 0600 in
 * `DATA_DIR/headless-token`, created once and reused. A file that is not a token (damaged,
 * emptied) is replaced by a new one; a file readable by others is set back to 0600.
 */
export function loadOrCreateToken(
  dataDir: string,
  random: (n: number) => Buffer = randomBytes,
): { token: string; path: string; created: boolean } {
  const path = join(dataDir, TOKEN_FILE);
  let existing: string | undefined;
  try {
    existing = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new TesseraError(
        'TOKEN_FILE',
        `cannot read ${path} (${(err as Error).message}): fix its permissions or delete it`,
      );
  }
  if (existing !== undefined && TOKEN_RE.test(existing)) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { token: existing, path, created: false };
  }
  const token = random(32).toString('hex');
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return { token, path, created: true };
}

/** Constant-time equality of two strings of any length (both are hashed to the same length first). */
export function safeEqual(a: string, b: string): boolean {
  const key = 'tessera-compare';
  const ha = createHmac('sha256', key).update(a).digest();
  const hb = createHmac('sha256', key).update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The value of one cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface AccessPolicyDeps {
  token: string;
  /** The port the server listens on (for the allowed origins). */
  port: () => number;
  /** The host it was bound to; loopback binds accept only loopback Host headers (DNS rebinding). */
  host: string;
}

/** What a request carries: a token in the query, a session cookie, or nothing usable. */
export type AccessResult =
  | { ok: true; via: 'token' | 'cookie' }
  | { ok: false; reason: 'no-credentials' | 'bad-token' | 'bad-cookie' | 'bad-host' };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The access rules of headless mode: a request is let in with `?token=TOKEN` or the session
 * cookie (compared in constant time); the socket also needs its Origin to be the page's own.
 * The cookie holds a value derived from the token, not the token itself.
 */
export class AccessPolicy {
  readonly session: string;

  constructor(private readonly deps: AccessPolicyDeps) {
    if (!TOKEN_RE.test(deps.token))
      throw new TesseraError('TOKEN_FILE', 'the headless token must be 64 hex characters');
    this.session = createHmac('sha256', deps.token).update('tessera headless session v1').digest('hex');
  }

  /** The Set-Cookie header value that a valid token is exchanged for. */
  sessionCookie(): string {
    return `${SESSION_COOKIE}=${this.session}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /** Whether the request's Host header names this server (loopback names only for a loopback bind). */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (!host) return false;
    const { name, port } = splitHost(host);
    if (port !== String(this.deps.port())) return false;
    if (isLoopbackHost(this.deps.host)) return isLoopbackHost(name);
    return true;
  }

  /** Token (query) or cookie, after the Host check. */
  check(req: IncomingMessage): AccessResult {
    if (!this.hostAllowed(req)) return { ok: false, reason: 'bad-host' };
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (query !== null)
      return safeEqual(query, this.deps.token) ? { ok: true, via: 'token' } : { ok: false, reason: 'bad-token' };
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined)
      return safeEqual(cookie, this.session) ? { ok: true, via: 'cookie' } : { ok: false, reason: 'bad-cookie' };
    return { ok: false, reason: 'no-credentials' };
  }

  /** The socket's rule: access as for any route, and Origin exactly `http://<Host header>`. */
  socketAllowed(req: IncomingMessage): boolean {
    if (!this.check(req).ok) return false;
    const origin = req.headers.origin;
    return typeof origin === 'string' && origin === `http://${req.headers.host ?? ''}`;
  }
}

function splitHost(host: string): { name: string; port: string } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  return { name: (m?.[1] ?? host).toLowerCase(), port: m?.[2] ?? '80' };
}
