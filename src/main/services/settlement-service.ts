import type { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { MAX_CREDITS, parseReceipt, ReceiptError, type Receipt } from '../../core/ledger/receipt.js';
import {
  describeMode,
  effectiveMode,
  MAX_ARM_DELAY_SECONDS,
  type SettlementMode,
  type SettlementModeName,
} from '../../core/ledger/settlement-mode.js';
import type { Clock } from '../../core/clock.js';
import type { Database } from '../db/database.js';
import { StorageError } from '../db/errors.js';
import { CounterRepo } from '../db/repos/counter-repo.js';
import type { PendingStatus } from '../db/repos/movement-repo.js';
import {
  earningSettlementOf,
  ReceiptConflictError,
  ReceiptRepo,
  type ReceiptStatus,
} from '../db/repos/receipt-repo.js';
import { MarketKeyRepo } from '../db/repos/market-key-repo.js';
import { checkReceiptSignature, type ReceiptCheck } from '../../node/signing/receipt-signing.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { counter, gauge, histogram } from '../metrics.js';
import {
  CreditMovements,
  receiptStateFor,
  SettlementError,
  type Movement,
  type PendingApplySummary,
  type ReceiptBatch,
} from './credit-movements.js';
import { noFaults, type Faults } from './faults.js';
import { errorMessage } from '../../core/errors.js';
import { systemClock } from '../../node/clock.js';

export { SettlementError };

/** Receipts per transaction when applying a batch (bounds the work one commit holds). */
export const SETTLEMENT_BATCH_SIZE = 500;

/** What happened to one receipt: `conflict` = same key already stored with other contents (nothing changed). */
export type ApplyOutcome = 'applied' | 'recorded' | 'duplicate' | 'failed' | 'conflict';

export interface ApplyResult {
  key: string;
  outcome: ApplyOutcome;
  reason?: string;
}

export interface SettlementStatus {
  mode: SettlementModeName;
  /** "dry-run", "armed (real in 30s)", "real". */
  mode_label: string;
  activate_at: number | null;
  balances: { account: string; balance: string }[];
  receipts: Record<ReceiptStatus, number>;
  /** Credit movements recorded in dry-run: `pending` wait for real mode. */
  movements: Record<PendingStatus, number>;
  /** Markets whose receipt key this node pinned; `practice` marks the practice market (its credits are not money). */
  markets: { market_id: string; practice: boolean; key: string }[];
}

export interface SettlementServiceDeps {
  db: Database;
  blake3: Blake3Hasher;
  registry: Registry;
  /** The node's credit movements (shared with the courier and the bond ledger); built here when absent. */
  credits?: CreditMovements;
  clock?: Clock;
  logger?: Logger;
  /** Fault injection between the statements of a settlement (tests). */
  faults?: Faults;
}

/**
 * Settles receipts into the double-entry ledger under the rule of {@link CreditMovements}
 * (docs/earnings.md). A receipt is first checked against the pinned key of the market that
 * signed it (`verify`); only then is it applied. DryRun (default) records each receipt and its
 * movement as pending, moving nothing; Armed turns Real at its activation time (persisted, so it
 * survives restarts); turning Real applies what dry-run recorded, in order, once; Real moves the
 * receipt's amount from the market's issuer account `market:<id>` (which may go below zero) to
 * the provider in the same transaction that marks the receipt applied. A refusal by the ledger
 * (an overflow) archives the receipt with its reason and reverts to DryRun.
 */
export class SettlementService {
  private readonly db: Database;
  readonly credits: CreditMovements;
  private readonly receipts: ReceiptRepo;
  private readonly marketKeys: MarketKeyRepo;
  private readonly counters: CounterRepo;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly faults: Faults;
  private readonly persistFail;
  private readonly refused;
  private readonly corrupt;
  private readonly latency;

  constructor(private readonly deps: SettlementServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
    this.faults = deps.faults ?? noFaults;
    this.credits =
      deps.credits ?? new CreditMovements({ db: deps.db, clock: this.clock, logger: this.logger, faults: this.faults });
    this.receipts = new ReceiptRepo(deps.db);
    this.marketKeys = new MarketKeyRepo(deps.db);
    this.counters = new CounterRepo(deps.db);
    this.counters.register(deps.registry, [
      { name: 'settle_applied_total', help: 'Receipts debited from the buyer and credited to the provider.' },
      { name: 'settle_failed_total', help: 'Receipts that failed to settle, by reason.', labelNames: ['reason'] },
      { name: 'settle_mode_change_total', help: 'Settlement mode transitions, by new mode.', labelNames: ['to'] },
      {
        name: 'matches_total',
        help: 'Receipts processed by the match loop, by dry-run flag.',
        labelNames: ['dry_run'],
      },
    ]);
    this.persistFail = counter(deps.registry, {
      name: 'receipt_persist_fail_total',
      help: 'Receipt writes that failed in the database.',
    });
    this.refused = counter(deps.registry, {
      name: 'receipt_refused_total',
      help: 'Receipts refused before recording: unsigned, badly signed, or from a market with no pinned key, by code.',
      labelNames: ['code'],
    });
    this.corrupt = counter(deps.registry, {
      name: 'receipt_corrupt_total',
      help: 'Stored receipts found damaged at start-up (skipped).',
    });
    this.latency = histogram(deps.registry, {
      name: 'match_loop_latency_seconds',
      help: 'Time per match-loop iteration (one batch of receipts).',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    // A read-only context (`tessera metrics`) must not write the armed → real switch.
    const modeNow = () => {
      if (!this.db.open) return undefined;
      return (this.db.readonly ? effectiveMode(this.credits.storedMode(), this.clock.now()) : this.currentMode()).kind;
    };
    gauge(deps.registry, {
      name: 'settlement_mode',
      help: 'Current settlement mode (1 for the mode in force).',
      labelNames: ['mode'],
      collect() {
        const current = modeNow();
        if (!current) return;
        for (const m of ['dry_run', 'armed', 'real'] as const) this.set({ mode: m }, m === current ? 1 : 0);
      },
    });
  }

  /**
   * Re-checks every stored receipt (key recomputed from the stored fields). Damaged records
   * are counted in receipt_corrupt_total and skipped; start-up continues.
   */
  verifyStoredReceipts(): { checked: number; corrupt: number } {
    let checked = 0;
    let corrupt = 0;
    for (const row of this.receipts.iterateAll()) {
      checked++;
      try {
        const r = parseReceipt(JSON.parse(row.payload), this.deps.blake3);
        if (r.idempotency_key !== row.idempotency_key) throw new ReceiptError('stored under a different key');
      } catch (err) {
        corrupt++;
        this.corrupt.inc();
        this.logger.warn('damaged receipt skipped', { key: row.idempotency_key, error: errorMessage(err) });
      }
    }
    return { checked, corrupt };
  }

  /**
   * Checks a receipt against the pinned key of the market its buyer names (`market:<id>`) —
   * before anything is recorded. A refusal (RECEIPT_UNSIGNED, RECEIPT_BAD_SIGNATURE,
   * RECEIPT_UNKNOWN_MARKET, RECEIPT_WRONG_MARKET) is logged with its code and counted in
   * receipt_refused_total{code}; nothing is stored. `fromMarket`: the market that delivered it.
   */
  verify(receipt: Receipt, fromMarket?: string): ReceiptCheck {
    const check = checkReceiptSignature(receipt, (id) => this.marketKeys.get(id)?.publicKey, fromMarket);
    if (!check.ok) {
      this.refused.inc({ code: check.code });
      this.logger.warn('receipt refused', { code: check.code, key: receipt.idempotency_key, message: check.message });
    }
    return check;
  }

  /** The earnings word (`applied`, `recorded`, `failed`) for a stored receipt, or undefined when it is not stored. */
  storedSettlement(key: string): 'applied' | 'recorded' | 'failed' | undefined {
    const row = this.receipts.get(key);
    return row ? earningSettlementOf(row.status) : undefined;
  }

  /** The mode in force now (an Armed mode past its time is promoted to Real, applying what dry-run recorded). */
  currentMode(): SettlementMode {
    return this.credits.currentMode();
  }

  /** Switches to DryRun or Real immediately; turning Real applies the pending movements (see the summary). */
  setMode(kind: 'dry_run' | 'real'): SettlementMode {
    return this.changeMode(kind).mode;
  }

  /** Like setMode, with what applying the pending movements did. */
  changeMode(kind: 'dry_run' | 'real'): { mode: SettlementMode; pending: PendingApplySummary } {
    return this.credits.setMode(kind);
  }

  /** Arms settlement: Real after `delaySeconds` (survives restarts). */
  arm(delaySeconds: number): SettlementMode {
    if (!Number.isFinite(delaySeconds) || delaySeconds < 0 || delaySeconds > MAX_ARM_DELAY_SECONDS) {
      throw new SettlementError(
        `arm delay must be from 0 to ${MAX_ARM_DELAY_SECONDS} seconds (ten years), got ${delaySeconds}`,
      );
    }
    return this.credits.arm(this.clock.now() + Math.round(delaySeconds * 1000));
  }

  /** Adds credits to an account (an explicit mint entry: the only way credits enter the ledger). */
  fund(account: string, amount: bigint, memo = 'fund'): void {
    if (account.length === 0) throw new SettlementError('account must not be empty');
    if (amount <= 0n || amount > MAX_CREDITS)
      throw new SettlementError(`amount must be an integer from 1 to ${MAX_CREDITS}`);
    const now = this.clock.now();
    this.db.transaction(() => this.credits.ledger.mint(`mint:${uuidv7()}`, account, amount, memo, now));
  }

  /** Applies one receipt (one match-loop iteration). */
  apply(receipt: Receipt): ApplyResult {
    return this.applyBatch([receipt])[0] as ApplyResult;
  }

  /**
   * Applies receipts in batches of SETTLEMENT_BATCH_SIZE, each batch one transaction (one
   * commit) under the mode read once at its start. Results are per receipt, in order, and the
   * same as applying the receipts one at a time: a receipt that conflicts with a stored one is
   * reported and changes nothing (its insert writes nothing, so no savepoint is needed); a
   * receipt the ledger refuses is archived and reverts settlement to dry-run for the receipts
   * after it, the others in the batch still settle.
   */
  applyBatch(receipts: readonly Receipt[]): ApplyResult[] {
    const out: ApplyResult[] = [];
    for (let i = 0; i < receipts.length; i += SETTLEMENT_BATCH_SIZE)
      out.push(...this.applyChunk(receipts.slice(i, i + SETTLEMENT_BATCH_SIZE)));
    return out;
  }

  private applyChunk(receipts: readonly Receipt[]): ApplyResult[] {
    const stop = this.latency.startTimer();
    try {
      const results = this.db.transaction(() => {
        this.faults('settle.batch.begun');
        const batch = this.credits.receiptBatch();
        this.faults('settle.mode-read');
        const matched = { real: 0n, dry: 0n };
        const res = receipts.map((r) => this.applyOne(r, batch, matched));
        if (matched.real > 0n) batch.counters.inc('matches_total', { dry_run: 'false' }, matched.real);
        if (matched.dry > 0n) batch.counters.inc('matches_total', { dry_run: 'true' }, matched.dry);
        batch.flush();
        this.faults('settle.batch.committing');
        return res;
      });
      this.faults('settle.batch.committed');
      return results;
    } catch (err) {
      // The whole batch rolled back: nothing of it is stored.
      if (isSqliteError(err)) {
        this.persistFail.inc();
        this.logger.error('receipt batch write failed', {
          receipts: receipts.length,
          first: receipts[0]?.idempotency_key,
          error: (err as Error).message,
        });
      }
      throw err;
    } finally {
      stop();
    }
  }

  /** Balances, counts and the mode in force; a read-only connection reports a due promotion without making it. */
  status(): SettlementStatus {
    const mode = this.db.readonly ? effectiveMode(this.credits.storedMode(), this.clock.now()) : this.currentMode();
    return {
      mode: mode.kind,
      mode_label: describeMode(mode, this.clock.now()),
      activate_at: mode.kind === 'armed' ? mode.activate_at : null,
      balances: this.credits.ledger.balances().map((b) => ({ account: b.account, balance: b.balance.toString() })),
      receipts: this.receipts.countByStatus(),
      movements: this.credits.counts(),
      markets: this.marketKeys.list().map((k) => ({ market_id: k.marketId, practice: k.practice, key: k.publicKey })),
    };
  }

  /** The ledger's conservation proof. */
  checkLedger() {
    return this.credits.ledger.checkConservation();
  }

  /** One receipt of a batch: stored in the state its movement will have, then the movement recorded (new receipts only). */
  private applyOne(r: Receipt, batch: ReceiptBatch, matched: { real: bigint; dry: bigint }): ApplyResult {
    const now = this.clock.now();
    const m: Movement = {
      eventId: `receipt:${r.idempotency_key}`,
      source: 'receipt',
      ref: r.idempotency_key,
      kind: 'transfer',
      from: r.buyer,
      to: r.provider,
      amount: r.quote_price,
      memo: `job ${r.job_id}`,
    };
    const planned = batch.plan(m);
    let inserted: boolean;
    try {
      inserted = this.receipts.insertIfAbsent(r, now, receiptStateFor(planned)).inserted;
    } catch (err) {
      if (!(err instanceof ReceiptConflictError)) throw err;
      this.logger.warn('receipt conflicts with a stored one, skipped', { key: r.idempotency_key });
      return { key: r.idempotency_key, outcome: 'conflict', reason: err.message };
    }
    this.faults('settle.receipt-stored');
    if (!inserted) return { key: r.idempotency_key, outcome: 'duplicate' };
    // matches_total{dry_run}: the mode this receipt was settled under (before a refusal reverts it).
    if (batch.mode.kind === 'real') matched.real++;
    else matched.dry++;
    batch.commit(m, planned);
    if (planned.status === 'pending') return { key: r.idempotency_key, outcome: 'recorded' };
    if (planned.status === 'refused') return { key: r.idempotency_key, outcome: 'failed', reason: planned.reason };
    return { key: r.idempotency_key, outcome: 'applied' };
  }
}

/** A write the database refused (full disk, I/O, lock): Database reports these as StorageError. */
function isSqliteError(err: unknown): boolean {
  if (err instanceof StorageError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}
