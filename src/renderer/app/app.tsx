import { useEffect, useRef, useState } from 'react';
import { ConnectionProvider, useConnection } from './hooks/connection.js';
import { NodeStatusProvider, useNodeStatus } from './hooks/node-status.js';
import { useNow } from './hooks/use-call.js';
import { describeMarket, statusLine } from './lib/status.js';
import { parseHash, ROUTES, startRoute, type RouteId } from './lib/routes.js';
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
    if (route === null && joined !== null) {
      const start = startRoute(joined);
      window.history.replaceState(null, '', `#/${start}`);
      setRoute(start);
    }
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

function ReconnectBanner() {
  const { state, retryAt, reconnectNow } = useConnection();
  const now = useNow(1000);
  if (state !== 'closed') return null;
  const secs = retryAt === null ? 0 : Math.max(0, Math.ceil((retryAt - now) / 1000));
  return (
    <div className="banner banner-bad" role="alert">
      <span>
        Lost the connection to the Tessera node (TRANSPORT_CLOSED).{' '}
        {secs > 0 ? `Reconnecting in ${secs} s…` : 'Reconnecting…'} If it stays down, check that{' '}
        <code>tessera headless</code> is still running.
      </span>
      <button type="button" className="btn btn-small" onClick={reconnectNow}>
        Reconnect now
      </button>
    </div>
  );
}

function Shell() {
  const { status, error } = useNodeStatus();
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
        <nav aria-label="Main">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true" />
            <span className="brand-name">Tessera</span>
          </div>
          <ul>
            {ROUTES.map((r) => (
              <li key={r.id}>
                <a href={`#/${r.id}`} aria-current={route === r.id ? 'page' : undefined}>
                  <Icon name={r.id} />
                  {r.name}
                </a>
              </li>
            ))}
          </ul>
        </nav>
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
        <main id="main" ref={mainRef} tabIndex={-1}>
          {Screen ? <Screen key={route} /> : <p className="loading">Connecting to the Tessera node…</p>}
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
