import { useEffect, useRef } from 'react';
import { call } from '../api/client.js';
import { NotificationRules, type Notice } from '../lib/notify.js';
import { useConnection } from './connection.js';
import { useNodeStatus } from './node-status.js';
import { useEvent } from './use-call.js';

/** The window event the Settings screen sends after a save, so opt-in changes apply at once. */
export const SETTINGS_SAVED_EVENT = 'tessera:settings-saved';

/** Whether this page may show notifications now (the API exists and the person allowed it). */
export function notificationsAllowed(): boolean {
  return typeof Notification !== 'undefined' && Notification.permission === 'granted';
}

function show(n: Notice): void {
  if (!notificationsAllowed()) return;
  try {
    // One per kind at a time: a newer one replaces the older (tag).
    new Notification(n.title, { body: n.body, tag: `tessera-${n.kind}` });
  } catch {
    // Some browsers only allow notifications from a service worker; the in-page status still says it all.
  }
}

/**
 * Desktop notifications (the Notification API: the browser's in headless mode, Electron's in the
 * desktop app), when the person opted in under Settings: the rules in lib/notify decide which
 * fire, from the node's status, the connection and the settlement's applied receipts, sampled on
 * every change and every 30 s.
 */
export function useNotifications(): void {
  const { state, generation } = useConnection();
  const { status } = useNodeStatus();
  const rules = useRef(new NotificationRules());
  const enabled = useRef(false);
  const settled = useRef<number | null>(null);
  const sample = useRef(() => undefined as void);
  sample.current = () => {
    const notices = rules.current.observe({
      at: Date.now(),
      connected: state === 'open',
      status,
      settled: settled.current,
    });
    if (enabled.current) notices.forEach(show);
  };

  const readSettled = () =>
    call('settlement:status').then(
      (s) => {
        settled.current = s.receipts.applied;
        sample.current();
      },
      () => undefined,
    );

  useEffect(() => {
    const load = () =>
      call('settings:get').then(
        (s) => (enabled.current = s.notifications),
        () => undefined,
      );
    void load();
    void readSettled();
    window.addEventListener(SETTINGS_SAVED_EVENT, load);
    return () => window.removeEventListener(SETTINGS_SAVED_EVENT, load);
  }, [generation]);
  useEvent('earnings:changed', () => void readSettled());
  useEffect(() => sample.current(), [state, status]);
  useEffect(() => {
    const t = setInterval(() => {
      sample.current();
      void readSettled();
    }, 30_000);
    return () => clearInterval(t);
  }, []);
}
