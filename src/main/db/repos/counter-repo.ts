import type { Registry } from 'prom-client';
import { counter } from '../../metrics.js';
import type { Database } from '../database.js';
import { sql } from '../sql.js';

/** Canonical label text: sorted key=value pairs, so the same labels always hit the same row. */
export function labelKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function parseLabelKey(key: string): Record<string, string> {
  if (key === '') return {};
  return Object.fromEntries(key.split(',').map((kv) => kv.split('=', 2) as [string, string]));
}

/**
 * Counters stored in the database and bumped in the same transaction as the event they count,
 * so they survive restarts and agree with the ledger across processes.
 */
export class CounterRepo {
  constructor(private readonly db: Database) {}

  inc(name: string, labels: Record<string, string> = {}, by = 1n): void {
    this.db.run(sql`INSERT INTO counters (name, labels, value) VALUES (${name}, ${labelKey(labels)}, ${by})
      ON CONFLICT(name, labels) DO UPDATE SET value = value + excluded.value`);
  }

  /** A tally for one transaction: increments are summed in memory and written by `flush()`, one statement per counter. */
  tally(): CounterTally {
    return new CounterTally(this);
  }

  get(name: string, labels: Record<string, string> = {}): bigint {
    return (
      this.db.get<{ value: bigint }>(
        sql`SELECT value FROM counters WHERE name = ${name} AND labels = ${labelKey(labels)}`,
      )?.value ?? 0n
    );
  }

  rows(name: string): { labels: Record<string, string>; value: bigint }[] {
    return this.db
      .all<{ labels: string; value: bigint }>(sql`SELECT labels, value FROM counters WHERE name = ${name}`)
      .map((r) => ({
        labels: parseLabelKey(r.labels),
        value: r.value,
      }));
  }

  /** Exposes stored counters as Prometheus counters, read from the database at scrape time. */
  register(registry: Registry, defs: { name: string; help: string; labelNames?: string[] }[]): void {
    const rowsOf = (name: string) => (this.db.open ? this.rows(name) : undefined);
    for (const def of defs) {
      counter(registry, {
        name: def.name,
        help: def.help,
        labelNames: def.labelNames ?? [],
        collect() {
          const rows = rowsOf(def.name);
          if (!rows) return;
          this.reset();
          for (const row of rows) this.inc(row.labels, Number(row.value));
        },
      });
    }
  }
}

/**
 * Counter increments collected during one batch (a transaction) and written together: the
 * stored counters change in the same transaction as the events they count, once per counter
 * instead of once per event. Call `flush()` before the transaction commits.
 */
export class CounterTally {
  private readonly pending = new Map<string, { name: string; labels: Record<string, string>; by: bigint }>();

  constructor(private readonly repo: CounterRepo) {}

  inc(name: string, labels: Record<string, string> = {}, by = 1n): void {
    const key = `${name}\n${labelKey(labels)}`;
    const entry = this.pending.get(key);
    if (entry) entry.by += by;
    else this.pending.set(key, { name, labels, by });
  }

  /** Writes every collected increment and empties the tally; false when there was nothing to write. */
  flush(): boolean {
    if (this.pending.size === 0) return false;
    for (const { name, labels, by } of this.pending.values()) this.repo.inc(name, labels, by);
    this.pending.clear();
    return true;
  }
}
