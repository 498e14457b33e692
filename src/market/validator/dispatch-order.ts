/** One turn of a provider in a dispatch pass. */
export interface DispatchTurn<S> {
  session: S;
  /**
   * Whether this turn may lease the provider a job it lost itself (its lease lapsed, was revoked
   * or reported lost). Such a job goes to anyone else that fits first.
   */
  retake: boolean;
}

/**
 * The order one dispatch pass serves providers in (docs/market-api.md, "Dispatch order"):
 *   1. fresh providers — heard (a committed heartbeat, or their join) within `freshMs` — in
 *      join order;
 *   2. stale providers, in join order (a provider silent past t1 is Suspect: it gets work only
 *      when no fresh provider has room for it);
 *   3. the fresh providers again, then 4. the stale ones again, now each allowed to retake the
 *      jobs it lost itself — turns reached only with such a job still queued because no other
 *      connected provider with room fits it.
 * So a job lost by a provider goes back to it only when no one else can take it now.
 */
export function dispatchOrder<S>(
  sessions: readonly S[],
  lastHeard: (s: S) => number | undefined,
  now: number,
  freshMs: number,
): DispatchTurn<S>[] {
  const fresh: S[] = [];
  const stale: S[] = [];
  for (const s of sessions) {
    const at = lastHeard(s);
    (at !== undefined && now - at < freshMs ? fresh : stale).push(s);
  }
  const inOrder = [...fresh, ...stale];
  return [
    ...inOrder.map((session) => ({ session, retake: false })),
    ...inOrder.map((session) => ({ session, retake: true })),
  ];
}
