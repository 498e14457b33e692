import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { NodeStatusInfo } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { errorMessage, useEvent } from './use-call.js';
import { useConnection } from './connection.js';

export interface NodeStatusState {
  status: NodeStatusInfo | null;
  error: string | null;
  /** When the last job:finished event arrived (ms since epoch). */
  lastJobAt: number | null;
  /** Takes a status a call answered with (join, leave, pause, resume). */
  update(s: NodeStatusInfo): void;
}

const NodeStatusContext = createContext<NodeStatusState>({
  status: null,
  error: null,
  lastJobAt: null,
  update: () => undefined,
});

/** The node's status for every screen: loaded once per connection, then kept current by node:status events. */
export function NodeStatusProvider({ children }: { children: ReactNode }) {
  const { generation } = useConnection();
  const [status, setStatus] = useState<NodeStatusInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [lastJobAt, setLastJobAt] = useState<number | null>(null);
  useEffect(() => {
    let live = true;
    call('node:status').then(
      (s) => {
        if (!live) return;
        setStatus(s);
        setError(null);
      },
      (e: unknown) => live && setError(errorMessage(e)),
    );
    return () => {
      live = false;
    };
  }, [generation]);
  useEvent('node:status', (s) => setStatus(s));
  useEvent('job:finished', () => setLastJobAt(Date.now()));
  return (
    <NodeStatusContext.Provider value={{ status, error, lastJobAt, update: setStatus }}>
      {children}
    </NodeStatusContext.Provider>
  );
}

export function useNodeStatus(): NodeStatusState {
  return useContext(NodeStatusContext);
}
