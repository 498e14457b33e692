import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { TesseraError } from '../../core/errors.js';

/** Content types of the files a renderer build contains; anything else is served as bytes. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** The Content-Security-Policy every response carries: only this origin, no inline scripts, no framing. */
export const HEADLESS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every response of the headless server. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': HEADLESS_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Largest file served (a renderer bundle is far smaller). */
export const MAX_STATIC_BYTES = 32 << 20;

/** A missing or unbuilt renderer: one line saying what to do. */
export function checkRendererDir(dir: string): string {
  const index = join(dir, 'index.html');
  if (!existsSync(index) || !statSync(index).isFile())
    throw new TesseraError(
      'NO_RENDERER_BUILD',
      `the app's web UI is not built (no ${index}): run npm run build first`,
      { exitCode: 2 },
    );
  return realpathSync(dir);
}

export type StaticLookup =
  { kind: 'file'; path: string; size: number; type: string } | { kind: 'not-found' } | { kind: 'bad-request' };

/**
 * Maps a URL path to a regular file inside `root` (already a real path): percent-decoded once,
 * no NUL, no `..` segment, no symlink out of the root, no directory listing (`/` is index.html),
 * at most MAX_STATIC_BYTES.
 */
export function lookupStatic(root: string, urlPath: string): StaticLookup {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { kind: 'bad-request' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { kind: 'bad-request' };
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return { kind: 'bad-request' };
  const rel = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  if (rel.endsWith('/')) return { kind: 'not-found' };
  const candidate = resolve(root, rel);
  if (candidate !== root && !candidate.startsWith(root + sep)) return { kind: 'bad-request' };
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    return { kind: 'not-found' };
  }
  if (!real.startsWith(root + sep)) return { kind: 'not-found' };
  const st = statSync(real);
  if (!st.isFile() || st.size > MAX_STATIC_BYTES) return { kind: 'not-found' };
  return { kind: 'file', path: real, size: st.size, type: contentType(real) };
}

/** Sends a looked-up file (GET streams the body; HEAD sends only the headers). */
export function sendStatic(res: ServerResponse, file: Extract<StaticLookup, { kind: 'file' }>, head: boolean): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    'content-length': String(file.size),
    // Hashed asset names never change; index.html must be re-read after a rebuild.
    'cache-control': file.path.includes(`${sep}assets${sep}`) ? 'private, max-age=31536000, immutable' : 'no-cache',
  });
  if (head) {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
