import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { connectionState, onConnectionState, reconnect, type ConnectionState } from '../api/client.js';

export interface Connection {
  state: ConnectionState;
  /** Bumped each time the transport (re)opens: screens reload their data on it. */
  generation: number;
  /** When the next automatic reconnect is tried (ms since epoch), while closed. */
  retryAt: number | null;
  /** When the connection was lost (ms since epoch): what the screens show is as of then. Null while open. */
  lostAt: number | null;
  reconnectNow(): void;
}

const ConnectionContext = createContext<Connection>({
  state: 'open',
  generation: 0,
  retryAt: null,
  lostAt: null,
  reconnectNow: () => undefined,
});

/** Retry delays after the connection to the node closed: 1 s, 2 s, 5 s, then every 10 s. */
const RETRY_MS = [1000, 2000, 5000, 10_000];

/** Tracks the transport and reconnects with backoff when it closes. */
export function ConnectionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<ConnectionState>(() => connectionState());
  const [generation, setGeneration] = useState(0);
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const [lostAt, setLostAt] = useState<number | null>(() => (connectionState() === 'closed' ? Date.now() : null));
  const attempts = useRef(0);

  useEffect(
    () =>
      onConnectionState((s) => {
        setState(s);
        // Reconnect attempts go closed → connecting → closed: the data is as old as the first loss.
        if (s === 'closed') setLostAt((at) => at ?? Date.now());
        if (s === 'open') {
          setLostAt(null);
          attempts.current = 0;
          setRetryAt(null);
          setGeneration((g) => g + 1);
        }
      }),
    [],
  );

  useEffect(() => {
    if (state !== 'closed') return;
    const delay = RETRY_MS[Math.min(attempts.current, RETRY_MS.length - 1)] ?? 10_000;
    attempts.current++;
    setRetryAt(Date.now() + delay);
    const t = setTimeout(() => reconnect(), delay);
    return () => clearTimeout(t);
  }, [state, generation]);

  const value: Connection = {
    state,
    generation,
    retryAt,
    lostAt,
    reconnectNow: () => {
      attempts.current = 0;
      reconnect();
    },
  };
  return <ConnectionContext.Provider value={value}>{children}</ConnectionContext.Provider>;
}

export function useConnection(): Connection {
  return useContext(ConnectionContext);
}
