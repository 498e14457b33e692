import { useEffect, useRef } from 'react';
import type { StartupInfo } from '../../../shared/contract.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { parseHash, type RouteId } from '../lib/routes.js';
import '../startup.css';

/** The banner's headline for a phase on the way to earning; null when there is nothing to say. */
export function startupHeadline(s: StartupInfo | undefined): string | null {
  switch (s?.phase) {
    case 'starting_practice':
      return 'Starting the practice market…';
    case 'connecting':
      return s.step === 'Reconnecting to the market' ? 'Reconnecting to the market…' : 'Connecting to the market…';
    default:
      return null;
  }
}

/**
 * What the node is doing while it gets ready to earn — starting the practice market (with its
 * progress), connecting, reconnecting after a restart — instead of "Not joined". Gone once joined.
 */
export function StartupBanner() {
  const { status } = useNodeStatus();
  const startup = status?.startup;
  const headline = startupHeadline(startup);
  if (!startup || headline === null) return null;
  const pct = startup.progress === null ? null : Math.round(startup.progress * 100);
  return (
    <div className="startup-banner" role="status" aria-label="Getting ready to earn">
      <div className="startup-text">
        <strong>{headline}</strong>
        {startup.step && <span className="startup-step">{startup.step}</span>}
      </div>
      <div
        className={`startup-bar${pct === null ? ' startup-bar-busy' : ''}`}
        role="progressbar"
        aria-label={headline}
        aria-valuemin={0}
        aria-valuemax={100}
        {...(pct === null ? {} : { 'aria-valuenow': pct })}
      >
        <span style={pct === null ? undefined : { width: `${Math.max(4, pct)}%` }} />
      </div>
    </div>
  );
}

/**
 * Goes to the Dashboard by itself once the node has joined — only while the screen shown is the
 * one opened automatically at start (Join, before the node had joined); a screen the person
 * chose (a link followed, even to the screen already shown, or a URL with a screen in it) is
 * left alone.
 */
export function useDashboardWhenJoined(route: RouteId | null, joined: boolean): void {
  const startedOn = useRef(parseHash(window.location.hash));
  /** The route chosen automatically and still shown; null once the person chose a screen (or a hash was given). */
  const auto = useRef<RouteId | null | undefined>(undefined);
  useEffect(() => {
    const onClick = (e: MouseEvent) => {
      if (e.target instanceof Element && e.target.closest('a[href^="#/"]')) auto.current = null;
    };
    document.addEventListener('click', onClick, true);
    return () => document.removeEventListener('click', onClick, true);
  }, []);
  useEffect(() => {
    if (route === null) return;
    if (auto.current === undefined) auto.current = startedOn.current === null ? route : null;
    else if (route !== auto.current) auto.current = null;
  }, [route]);
  useEffect(() => {
    if (!joined || route !== 'join' || auto.current !== 'join') return;
    auto.current = 'dashboard';
    window.location.replace('#/dashboard');
  }, [joined, route]);
}
