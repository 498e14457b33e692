import pg from 'pg';
import type { SqlNotifications } from './driver.js';
import { quoteChannel, schemaChannel } from './channels.js';

/** How long the listener waits before its first reconnect, and at most between tries (ms). */
export const LISTEN_BACKOFF = { baseMs: 100, capMs: 5_000 } as const;

export interface PgListenerOptions {
  /** The pool's connection settings (URL, search_path), without a pool. */
  client: pg.ClientConfig;
  /** The store's schema: channel names are prefixed with it. */
  schema: string;
  /** Jitter in [0, 1) for the reconnect backoff (default Math.random). */
  random?: () => number;
}

/**
 * LISTEN on PostgreSQL: one dedicated `pg.Client` (outside the pool — a pooled connection goes
 * back to the pool and stops listening), opened at the first `listen`. When that connection is
 * lost — the server restarted, the backend was terminated, the network cut — it is opened again
 * after a backoff (100 ms doubling to 5 s, with jitter), every channel is LISTENed again, and
 * `onDidResubscribe` listeners are told, since notifications sent in between were lost.
 */
export class PgListener implements SqlNotifications {
  private client: pg.Client | undefined;
  private pidValue: number | undefined;
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private readonly resubscribed = new Set<() => void>();
  private opening: Promise<pg.Client> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  /** LISTEN / UNLISTEN statements, one at a time (a pg client takes one query at a time). */
  private statements: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: PgListenerOptions) {}

  get pid(): number | undefined {
    return this.pidValue;
  }

  channel(name: string): string {
    return schemaChannel(this.o.schema, name);
  }

  async listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    let fns = this.channels.get(channel);
    if (!fns) this.channels.set(channel, (fns = new Set()));
    fns.add(fn);
    const unsubscribe = async () => {
      const set = this.channels.get(channel);
      if (!set?.delete(fn) || set.size > 0) return;
      this.channels.delete(channel);
      const client = this.client;
      if (client) await this.statement(client, `UNLISTEN ${quoteChannel(channel)}`).catch(() => undefined);
    };
    // A connection opened from now on LISTENs every channel; one already up is told this one.
    const client = this.client ?? (await this.open(false));
    if (client === this.client) await this.statement(client, `LISTEN ${quoteChannel(channel)}`);
    return unsubscribe;
  }

  /** Runs `text` on `client` after the statements queued before it. */
  private statement(client: pg.Client, text: string): Promise<unknown> {
    const run = this.statements.then(() => client.query(text));
    this.statements = run.catch(() => undefined);
    return run;
  }

  onDidResubscribe(fn: () => void): () => void {
    this.resubscribed.add(fn);
    return () => this.resubscribed.delete(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const opening = this.opening;
    const client = this.client;
    this.client = undefined;
    this.pidValue = undefined;
    await client?.end().catch(() => undefined);
    await opening?.then((c) => c.end()).catch(() => undefined);
  }

  /**
   * Opens the listening connection (one attempt at a time) and LISTENs every channel on it. One
   * opened in the background (after a loss or a failed first try) is announced by onDidResubscribe.
   */
  private open(background: boolean): Promise<pg.Client> {
    this.opening ??= this.connect(background).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async connect(background: boolean): Promise<pg.Client> {
    if (this.closed) throw new Error('the store is closed');
    const client = new pg.Client({ ...this.o.client, keepAlive: true });
    client.on('notification', (n) => {
      for (const fn of [...(this.channels.get(n.channel) ?? [])]) fn(n.payload ?? '');
    });
    // A lost connection is reported by 'error' (a terminated backend, a reset) and/or 'end'.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${quoteChannel(channel)}`);
      if (this.closed) throw new Error('the store is closed');
      this.client = client;
      this.pidValue = Number(rows[0]?.pid);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      this.scheduleRetry();
      throw err;
    }
    this.failures = 0;
    if (background) for (const fn of [...this.resubscribed]) fn();
    return client;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.pidValue = undefined;
    client.end().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry || this.channels.size === 0) return;
    const base = Math.min(LISTEN_BACKOFF.capMs, LISTEN_BACKOFF.baseMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 16);
    const delay = base / 2 + (base / 2) * (this.o.random ?? Math.random)();
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.client || this.closed) return;
      // A failed try schedules the next one itself.
      this.open(true).catch(() => undefined);
    }, delay);
    this.retry.unref();
  }
}
