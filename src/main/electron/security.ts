import { app, session, type Session, type WebContents } from 'electron';
import { isAppPage, type AppPageLocation } from '../api/sender-check.js';
import { appCsp } from './csp.js';

/**
 * The session rules: a CSP header on every response, every permission request and check
 * denied — except, from the app's own page, writing text to the clipboard ("Copy address") and
 * notifications (opt-in under Settings).
 */
export function hardenSession(s: Session, page: AppPageLocation): void {
  const csp = appCsp('devServer' in page ? page.devServer : undefined);
  s.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
  });
  const allowed = (permission: string, url: string) =>
    (permission === 'clipboard-sanitized-write' || permission === 'notifications') && isAppPage(url, page);
  s.setPermissionRequestHandler((wc, permission, callback) => callback(allowed(permission, wc.getURL())));
  s.setPermissionCheckHandler((wc, permission, origin, details) =>
    allowed(permission, details.requestingUrl ?? wc?.getURL() ?? origin),
  );
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
