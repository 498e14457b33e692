import type { SqlConn } from './driver.js';
import { pgArray, sql } from './sql.js';

/** One provider's presence: which market instance holds its socket (docs/market-api.md, "Presence"). */
export interface PresenceRecord {
  address: string;
  instanceId: string;
  /** The socket's session id on that instance (a newer socket of the same provider has a new one). */
  sessionId: string;
  joinedAt: number;
  /** Whether the provider serves the industrial lane (its `max_jobs` count toward industrial capacity). */
  industrial: boolean;
  maxJobs: number;
}

/** A market instance sharing the store. */
export interface InstanceRecord {
  instanceId: string;
  /** The URL it advertises to providers; null until it listens. */
  url: string | null;
  startedAt: number;
  heartbeatAt: number;
}

/**
 * Presence in the store: the market instances sharing it (each heartbeats its row) and which
 * instance holds each provider's socket. An instance is live while its heartbeat is at or after
 * `liveSince`; rows of dead instances are ignored by every read and removed by `dropDead`.
 */
export class PresenceRepo {
  constructor(private readonly c: SqlConn) {}

  /** Registers the instance or refreshes its heartbeat (and URL, when given). */
  async beat(instanceId: string, url: string | null, startedAt: number, now: number): Promise<void> {
    await this.c.query(sql`
      INSERT INTO market_instances (instance_id, url, started_at, heartbeat_at) VALUES (${instanceId}, ${url}, ${startedAt}, ${now})
      ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, url = COALESCE(EXCLUDED.url, market_instances.url)`);
  }

  /** Removes the instance and the presence it holds (it is stopping). */
  async removeInstance(instanceId: string): Promise<void> {
    await this.c.query(sql`DELETE FROM provider_presence WHERE instance_id = ${instanceId}`);
    await this.c.query(sql`DELETE FROM market_instances WHERE instance_id = ${instanceId}`);
  }

  /**
   * Removes the instances not heard since `liveSince`, and every presence row whose instance is
   * dead or gone; returns the dead instances' ids.
   */
  async dropDead(liveSince: number): Promise<string[]> {
    const rows = await this.c.query<{ instance_id: string }>(
      sql`DELETE FROM market_instances WHERE heartbeat_at < ${liveSince} RETURNING instance_id`,
    );
    await this.c.query(sql`
      DELETE FROM provider_presence p
      WHERE NOT EXISTS (SELECT 1 FROM market_instances i WHERE i.instance_id = p.instance_id AND i.heartbeat_at >= ${liveSince})`);
    return rows.map((r) => r.instance_id);
  }

  /** The live instances, oldest first. */
  async liveInstances(liveSince: number): Promise<InstanceRecord[]> {
    const rows = await this.c.query<{
      instance_id: string;
      url: string | null;
      started_at: bigint;
      heartbeat_at: bigint;
    }>(
      sql`SELECT instance_id, url, started_at, heartbeat_at FROM market_instances WHERE heartbeat_at >= ${liveSince} ORDER BY started_at, instance_id`,
    );
    return rows.map((r) => ({
      instanceId: r.instance_id,
      url: r.url,
      startedAt: Number(r.started_at),
      heartbeatAt: Number(r.heartbeat_at),
    }));
  }

  /** Writes `p`'s presence, taking the address over from any other socket; returns the row it replaced. */
  async claim(p: PresenceRecord): Promise<PresenceRecord | undefined> {
    const [prev] = await this.read([p.address], true);
    await this.c.query(sql`
      INSERT INTO provider_presence (address, instance_id, session_id, joined_at, industrial, max_jobs)
      VALUES (${p.address}, ${p.instanceId}, ${p.sessionId}, ${p.joinedAt}, ${p.industrial}, ${p.maxJobs})
      ON CONFLICT (address) DO UPDATE SET instance_id = EXCLUDED.instance_id, session_id = EXCLUDED.session_id,
        joined_at = EXCLUDED.joined_at, industrial = EXCLUDED.industrial, max_jobs = EXCLUDED.max_jobs`);
    return prev;
  }

  /**
   * Writes the presence of sockets this instance holds: a missing row is written again, a row of
   * the same instance gets the socket and its capacity; a row another instance has taken is left
   * alone. Returns the addresses written (the others have been taken).
   */
  async reassert(rows: readonly PresenceRecord[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const json = JSON.stringify(
      rows.map((p) => ({
        address: p.address,
        instance_id: p.instanceId,
        session_id: p.sessionId,
        joined_at: p.joinedAt,
        industrial: p.industrial,
        max_jobs: p.maxJobs,
      })),
    );
    const written = await this.c.query<{ address: string }>(sql`
      INSERT INTO provider_presence (address, instance_id, session_id, joined_at, industrial, max_jobs)
      SELECT x.address, x.instance_id, x.session_id, x.joined_at, x.industrial, x.max_jobs
      FROM jsonb_to_recordset(${json}::jsonb) AS x(address text, instance_id text, session_id text, joined_at bigint, industrial boolean, max_jobs integer)
      ON CONFLICT (address) DO UPDATE SET session_id = EXCLUDED.session_id, industrial = EXCLUDED.industrial, max_jobs = EXCLUDED.max_jobs
      WHERE provider_presence.instance_id = EXCLUDED.instance_id
      RETURNING address`);
    return new Set(written.map((r) => r.address));
  }

  /** Removes the address's presence if that socket still holds it. */
  async release(address: string, instanceId: string, sessionId: string): Promise<void> {
    await this.c.query(
      sql`DELETE FROM provider_presence WHERE address = ${address} AND instance_id = ${instanceId} AND session_id = ${sessionId}`,
    );
  }

  /** The presence rows of these addresses (locked with `forUpdate`). */
  async read(addresses: readonly string[], forUpdate = false): Promise<PresenceRecord[]> {
    if (addresses.length === 0) return [];
    const rows = await this.c.query<{
      address: string;
      instance_id: string;
      session_id: string;
      joined_at: bigint;
      industrial: boolean;
      max_jobs: number;
    }>(sql`
      SELECT address, instance_id, session_id, joined_at, industrial, max_jobs FROM provider_presence
      WHERE address = ANY(${pgArray(addresses)}::text[])
      ${forUpdate ? sql`FOR UPDATE` : sql``}`);
    return rows.map((r) => ({
      address: r.address,
      instanceId: r.instance_id,
      sessionId: r.session_id,
      joinedAt: Number(r.joined_at),
      industrial: r.industrial,
      maxJobs: Number(r.max_jobs),
    }));
  }

  /** The providers present on a live instance other than `instanceId`. */
  async presentElsewhere(instanceId: string, liveSince: number): Promise<Set<string>> {
    const rows = await this.c.query<{ address: string }>(sql`
      SELECT p.address FROM provider_presence p JOIN market_instances i ON i.instance_id = p.instance_id
      WHERE p.instance_id <> ${instanceId} AND i.heartbeat_at >= ${liveSince}`);
    return new Set(rows.map((r) => r.address));
  }

  /** The `max_jobs` summed over industrial providers present on live instances other than `instanceId`. */
  async industrialCapacityElsewhere(instanceId: string, liveSince: number): Promise<number> {
    const [row] = await this.c.query<{ n: bigint | number | string | null }>(sql`
      SELECT COALESCE(SUM(p.max_jobs), 0) AS n FROM provider_presence p JOIN market_instances i ON i.instance_id = p.instance_id
      WHERE p.industrial AND p.instance_id <> ${instanceId} AND i.heartbeat_at >= ${liveSince}`);
    return Number(row?.n ?? 0);
  }
}
