import pg from 'pg';
import type { PgRow, SqlConn, SqlDriver, SqlSession } from './driver.js';
import { compile, type PgQuery } from './sql.js';
import { MarketStoreError } from './errors.js';
import { errorMessage } from '../../core/errors.js';
import { PgListener } from './pg-listener.js';

const INT8_OID = 20;

/** Per-pool type parsers (never the global pg.types): BIGINT → bigint. */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => BigInt(v);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as pg.CustomTypesConfig;

/**
 * A PostgreSQL server through `pg`: a pool of connections, each transaction on its own client.
 * `schema`, when given, is put first on every connection's search_path (tests use a fresh schema).
 * Notifications (LISTEN) use a connection of their own (pg-listener.ts), opened at the first listen.
 */
export async function openPgDriver(url: string, options: { schema?: string; max?: number } = {}): Promise<SqlDriver> {
  const pool = new pg.Pool({
    // Queries are sent without waiting for the answer to the previous one (transaction() sends
    // BEGIN with the first statement); the store still awaits each statement before the next.
    pipeline: true,
    connectionString: url,
    max: options.max ?? 10,
    types: typeParsers,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on the next checkout.
  });
  let schema = options.schema;
  try {
    const c = await pool.connect();
    try {
      schema ??= (await c.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s ?? 'public';
    } finally {
      c.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new MarketStoreError(
      'STORE_UNREACHABLE',
      `cannot connect to the market store ${redact(url)} (${errorMessage(err)}); check --store and that the server is running`,
      { cause: err },
    );
  }
  // Channels are named after the schema the store's tables are in (LISTEN/NOTIFY is per database).
  const notifications = new PgListener({
    client: {
      connectionString: url,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    },
    schema: schema ?? 'public',
  });
  return {
    kind: 'postgres',
    location: redact(url),
    async transaction(fn) {
      const client = await pool.connect();
      const onCommit: string[] = [];
      const lastWrites: PgQuery[] = [];
      try {
        // BEGIN leaves in one write with the transaction's first statement (the pool's clients
        // pipeline: a query is sent without waiting for the answer to the one before), and the
        // notifications go with COMMIT: one round trip each fewer per transaction.
        const stream = streamOf(client);
        stream?.cork();
        let began: Promise<unknown>;
        let work: ReturnType<typeof fn>;
        try {
          began = client.query('BEGIN');
          work = fn(connOf(client, onCommit, lastWrites));
        } finally {
          stream?.uncork();
        }
        const [, result] = await Promise.all([began, work]);
        // The last writes and COMMIT leave in one write; a failed write fails the transaction (the
        // server then answers COMMIT with a rollback, and the ROLLBACK below changes nothing).
        stream?.cork();
        let last: Promise<unknown>;
        let committed: Promise<unknown>;
        try {
          last = Promise.all(lastWrites.map((q) => runOn(client, q)));
          committed = client.query([...onCommit, 'COMMIT'].join('; '));
        } finally {
          stream?.uncork();
        }
        await Promise.all([last, committed]);
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async query<R extends PgRow>(q: Parameters<SqlConn['query']>[0]): Promise<R[]> {
      const { text, values } = compile(q);
      return (await pool.query<R>(statementConfig(text, values))).rows;
    },
    session: () => openSession(url, options.schema),
    notifications,
    async close() {
      await notifications.close();
      await pool.end();
    },
  };
}

/** A dedicated client with the pool's settings (type parsers, search_path). */
async function openSession(url: string, schema: string | undefined): Promise<SqlSession> {
  const client = new pg.Client({
    connectionString: url,
    types: typeParsers,
    // A dead peer is noticed by TCP keepalive too, not only when the next query fails.
    keepAlive: true,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  const listeners: ((err: Error | undefined) => void)[] = [];
  let ended = false;
  const end = (err: Error | undefined) => {
    if (ended) return;
    ended = true;
    for (const l of listeners.splice(0)) l(err);
  };
  client.on('error', (err) => end(err));
  client.on('end', () => end(undefined));
  await client.connect();
  const [row] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
  return {
    pid: Number(row?.pid),
    query: <R extends PgRow>(q: PgQuery) => runOn<R>(client, q),
    onDidEnd(listener) {
      if (ended) listener(undefined);
      else listeners.push(listener);
    },
    close: () => client.end(),
  };
}

/**
 * Every statement the store sends is a fixed template (values travel as parameters), so each text is
 * prepared once per connection under a name of its own: the server parses it once and, after a few
 * runs, keeps its plan (planning the dispatch lease alone cost 1.9 ms a call, 4× its execution; see
 * docs/PERFORMANCE.md). Names are given to the first `MAX_NAMED` distinct texts; any text past that
 * (none today) goes unnamed, so a connection never holds an unbounded set of prepared statements.
 */
const MAX_NAMED = 512;
const statementNames = new Map<string, string>();

/** The query config for `text`: named (prepared once per connection) while names last. */
export function statementConfig(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED) {
    name = `tessera_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name === undefined ? { text, values } : { name, text, values };
}

/** The client's socket, to send BEGIN and the first statement in one write (undefined if pg hides it). */
function streamOf(client: pg.PoolClient): { cork(): void; uncork(): void } | undefined {
  const stream = (client as unknown as { connection?: { stream?: { cork?: unknown; uncork?: unknown } } }).connection
    ?.stream;
  return typeof stream?.cork === 'function' && typeof stream.uncork === 'function'
    ? (stream as { cork(): void; uncork(): void })
    : undefined;
}

function connOf(client: pg.PoolClient, onCommit?: string[], lastWrites?: PgQuery[]): SqlConn {
  const stream = streamOf(client);
  return {
    ...(stream &&
      lastWrites && {
        atCommit(q: PgQuery) {
          lastWrites.push(q);
        },
      }),
    ...(stream && {
      cork() {
        stream.cork();
        return () => stream.uncork();
      },
    }),
    ...(onCommit && {
      notifyOnCommit(channel: string, payload: string) {
        onCommit.push(`SELECT pg_notify(${pg.escapeLiteral(channel)}, ${pg.escapeLiteral(payload)})`);
      },
    }),
    query: <R extends PgRow>(q: PgQuery) => runOn<R>(client, q),
    async exec(text) {
      await client.query(text);
    },
  };
}

async function runOn<R extends PgRow>(client: pg.ClientBase, q: PgQuery): Promise<R[]> {
  const { text, values } = compile(q);
  return (await client.query<R>(statementConfig(text, values))).rows;
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@?]*):[^@/?]*@/i, '$1:***@');
}
