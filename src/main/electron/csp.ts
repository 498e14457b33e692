/**
 * The Content-Security-Policy of the app's window (no 'electron' import, so a test reads it
 * under Node). The page talks to the node over IPC, so it connects nowhere: `connect-src
 * 'self'` only (the dev server's HMR socket is the page's own origin; its host is named for
 * clarity). The built page carries the same rules as a <meta> (src/renderer/index.html), since
 * file:// responses have no headers; frame-ancestors is header-only.
 */
export function appCsp(devServer?: string): string {
  const dev = devServer ? new URL(devServer) : undefined;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    dev ? `connect-src 'self' ws://${dev.host}` : "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
