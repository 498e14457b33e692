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
 *   3. the fresh providers again, now allowed to retake the jobs they lost themselves — a turn
 *      reached only with such a job still queued because no one else took it.
 * In turns 1 and 2 no provider is leased a job it lost. A stale provider never retakes its own
 * lost job: it waits until the provider is heard again or another provider takes it.
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
  return [
    ...fresh.map((session) => ({ session, retake: false })),
    ...stale.map((session) => ({ session, retake: false })),
    ...fresh.map((session) => ({ session, retake: true })),
  ];
}
