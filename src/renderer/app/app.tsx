import { useEffect, useRef, useState } from 'react';
import { ConnectionProvider, useConnection } from './hooks/connection.js';
import { NodeStatusProvider, useNodeStatus } from './hooks/node-status.js';
import { useNow } from './hooks/use-call.js';
import { useNotifications } from './hooks/notifications.js';
import { clockTime, describeMarket, explainCode, staleLine, statusLine } from './lib/status.js';
import { NAV_GROUPS, parseHash, ROUTES, startRoute, type RouteId } from './lib/routes.js';
import { Dot } from './components/ui.js';
import { Icon } from './components/icons.js';
import { JoinScreen } from './screens/join.js';
import { DashboardScreen } from './screens/dashboard.js';
import { JobsScreen } from './screens/jobs.js';
import { CourierScreen } from './screens/courier.js';
import { SettlementScreen } from './screens/settlement.js';
import { DiagnosticsScreen } from './screens/diagnostics.js';
import { SettingsScreen } from './screens/settings.js';
import { LogsScreen } from './screens/logs.js';
import { shortId } from './lib/format.js';
import { StartupBanner, useDashboardWhenJoined } from './components/startup-banner.js';

const SCREENS: Record<RouteId, () => React.JSX.Element> = {
  dashboard: DashboardScreen,
  join: JoinScreen,
  jobs: JobsScreen,
  courier: CourierScreen,
  settlement: SettlementScreen,
  diagnostics: DiagnosticsScreen,
  settings: SettingsScreen,
  logs: LogsScreen,
};

/** The screen named by the location hash; an empty or unknown hash goes to the start route once the node's status is known. */
function useRoute(joined: boolean | null): RouteId | null {
  const [route, setRoute] = useState<RouteId | null>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (route !== null || joined === null) return;
    // A screen named since the first render whose hashchange has not been handled yet is kept:
    // the start screen only fills an address that still names none.
    const named = parseHash(window.location.hash);
    if (named !== null) return setRoute(named);
    const start = startRoute(joined);
    window.history.replaceState(null, '', `#/${start}`);
    setRoute(start);
  }, [route, joined]);
  return route;
}

function StatusPill() {
  const { status } = useNodeStatus();
  const { state } = useConnection();
  const { lastJobAt } = useNodeStatus();
  const now = useNow(5000);
  const line = statusLine(status, { transportOpen: state !== 'closed', lastJobAt, now });
  return (
    <div role="status" aria-label="Node status" className={`status-pill tone-${line.tone}`} title={line.detail}>
      <Dot tone={line.tone} />
      {line.word}
      <span className="status-detail"> · {line.detail}</span>
    </div>
  );
}

/** While the node cannot be reached: what happened in words, when the data is from, and a way to retry; the code only in small print. */
function ReconnectBanner() {
  const { state, retryAt, lostAt, reconnectNow } = useConnection();
  const now = useNow(1000);
  if (lostAt === null) return null;
  const secs = state !== 'closed' || retryAt === null ? 0 : Math.max(0, Math.ceil((retryAt - now) / 1000));
  return (
    <div className="banner banner-bad">
      <div className="banner-text">
        <p role="alert" className="banner-title">
          {explainCode('TRANSPORT_CLOSED')} What you see is from {clockTime(lostAt)}; actions are off until it is back.
        </p>
        <p className="banner-detail">
          {secs > 0 ? `Trying again in ${secs} s.` : 'Trying to reach it…'} If this lasts, check that Tessera (or{' '}
          <code>tessera headless</code>) is still running.
        </p>
        <details className="support-code">
          <summary>Details for support</summary>
          <code>TRANSPORT_CLOSED</code> since {clockTime(lostAt, true)}
        </details>
      </div>
      <button type="button" className="btn btn-small" onClick={reconnectNow} disabled={state === 'connecting'}>
        Try again now
      </button>
    </div>
  );
}

/** The main navigation: a sidebar on wide windows, one row that scrolls sideways on narrow ones. */
function MainNav({ route }: { route: RouteId | null }) {
  const scroller = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // On a narrow window the current screen's link scrolls into the row.
    scroller.current
      ?.querySelector<HTMLElement>('[aria-current="page"]')
      ?.scrollIntoView?.({ block: 'nearest', inline: 'nearest' });
  }, [route]);
  return (
    <nav aria-label="Main">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        <span className="brand-name">Tessera</span>
      </div>
      <div className="nav-scroll" ref={scroller}>
        {NAV_GROUPS.map((g) => (
          <div key={g.group} className={`nav-group nav-group-${g.group}`}>
            {g.label && (
              <p className="nav-group-label" id={`nav-${g.group}`}>
                {g.label}
              </p>
            )}
            <ul aria-labelledby={g.label ? `nav-${g.group}` : undefined}>
              {g.routes.map((r) => (
                <li key={r.id}>
                  <a href={`#/${r.id}`} aria-current={route === r.id ? 'page' : undefined}>
                    <Icon name={r.id} />
                    {r.name}
                  </a>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </div>
    </nav>
  );
}

function Shell() {
  const { status, error } = useNodeStatus();
  const { lostAt } = useConnection();
  const stale = lostAt !== null;
  useNotifications();
  const route = useRoute(status ? status.joined : error ? false : null);
  useDashboardWhenJoined(route, status?.joined ?? false);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    const name = ROUTES.find((r) => r.id === route)?.name;
    document.title = name ? `${name} · Tessera` : 'Tessera';
    if (route === null) return;
    if (first.current) {
      first.current = false;
      return;
    }
    // A new screen: move focus to its heading so keyboard and screen-reader users start there.
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);
  const Screen = route ? SCREENS[route] : null;
  return (
    <div className="shell">
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to content
      </a>
      <div className="sidebar">
        <MainNav route={route} />
      </div>
      <div className="content">
        <header className="topbar">
          <StatusPill />
          {status && (
            <div className="topbar-meta">
              <span>{status.joined ? describeMarket(status) : 'No market'}</span>
              {status.address && (
                <span className="mono" title={status.address}>
                  {shortId(status.address, 10)}
                </span>
              )}
            </div>
          )}
        </header>
        <ReconnectBanner />
        <StartupBanner />
        <main id="main" ref={mainRef} tabIndex={-1} className={stale ? 'stale' : undefined}>
          {stale && lostAt !== null && (
            <p className="stale-note" data-testid="stale-note">
              {staleLine(lostAt)}
            </p>
          )}
          {/* While the node cannot be reached every control on the screen is off (a disabled fieldset), and the data is dimmed. */}
          <fieldset className="screen-scope" disabled={stale}>
            {Screen ? <Screen key={route} /> : <p className="loading">Connecting to the Tessera node…</p>}
          </fieldset>
        </main>
      </div>
    </div>
  );
}

export function App() {
  return (
    <ConnectionProvider>
      <NodeStatusProvider>
        <Shell />
      </NodeStatusProvider>
    </ConnectionProvider>
  );
}
