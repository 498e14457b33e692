import { app, session, type Session, type WebContents } from 'electron';
import { isAppPage, type AppPageLocation } from '../../main/api/sender-check.js';

/**
 * The Content-Security-Policy on every response in the app's session (the built page also
 * carries it as a <meta>, since file:// responses have no headers): own scripts only, no
 * inline scripts, no plugins, no framing, no form posts. The dev server adds its HMR socket.
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

/**
 * The session rules: a CSP header on every response, every permission request and check
 * denied — except writing text to the clipboard from the app's own page ("Copy address").
 */
export function hardenSession(s: Session, page: AppPageLocation): void {
  const csp = appCsp('devServer' in page ? page.devServer : undefined);
  s.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
  });
  const allowed = (permission: string, url: string) => permission === 'clipboard-sanitized-write' && isAppPage(url, page);
  s.setPermissionRequestHandler((wc, permission, callback) => callback(allowed(permission, wc.getURL())));
  s.setPermissionCheckHandler((wc, permission, origin, details) => allowed(permission, details.requestingUrl ?? wc?.getURL() ?? origin));
}

/** Every web contents the app creates: no navigation away, no new windows, no <webview>. */
export function hardenAllWebContents(): void {
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

/** The default session, hardened once at start-up. */
export function hardenDefaultSession(page: AppPageLocation): void {
  hardenSession(session.defaultSession, page);
}
