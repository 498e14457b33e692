import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { EventName, EventPayload } from '../../../shared/contract.js';
import { connectionState, ContractCallError, on } from '../api/client.js';
import { useConnection } from './connection.js';
import { throttle } from '../lib/throttle.js';

/** The one-line message of anything a call threw. */
export function errorMessage(err: unknown): string {
  if (err instanceof ContractCallError) return err.message;
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

/** A call that failed because the headless connection is down (the banner says so and retries). */
export function isTransportClosed(err: unknown): boolean {
  return err instanceof ContractCallError && err.code === 'TRANSPORT_CLOSED' && connectionState() === 'closed';
}

export interface CallState<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  /** Loads again (keeps the data shown meanwhile). */
  reload(): void;
}

/** Runs a contract call on mount, when `deps` change and each time the transport reopens. */
export function useCall<T>(fn: () => Promise<T>, deps: readonly unknown[] = []): CallState<T> {
  const { generation } = useConnection();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    let live = true;
    setLoading(true);
    fnRef.current().then(
      (v) => {
        if (!live) return;
        setData(v);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        // A closed connection is announced once, by the reconnect banner; the call runs again when it reopens.
        setError(isTransportClosed(e) ? null : errorMessage(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [generation, nonce, ...deps]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Subscribes to a node event for the component's lifetime (the latest handler is called). */
export function useEvent<E extends EventName>(event: E, handler: (payload: EventPayload<E>) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => on(event, (p) => ref.current(p)), [event]);
}

/** The current time, updated every `intervalMs` (for relative times and countdowns). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

/** Reloads on bursts of events: at once for the first, then at most once per `ms` (lib/throttle.ts). */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const throttled = useMemo(() => throttle(() => ref.current(), ms), [ms]);
  useEffect(() => () => throttled.cancel(), [throttled]);
  return throttled.call;
}
