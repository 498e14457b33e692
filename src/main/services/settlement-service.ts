import { TesseraError } from '../../core/errors.js';
import type { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { MAX_CREDITS, parseReceipt, ReceiptError, type Receipt } from '../../core/ledger/receipt.js';
import { decodeMode, describeMode, effectiveMode, encodeMode, MAX_ARM_DELAY_SECONDS, type SettlementMode, type SettlementModeName } from '../../core/ledger/settlement-mode.js';
import type { Database } from '../db/database.js';
import { CounterRepo } from '../db/repos/counter-repo.js';
import { LedgerRepo } from '../db/repos/ledger-repo.js';
import { ReceiptConflictError, ReceiptRepo, type ReceiptStatus } from '../db/repos/receipt-repo.js';
import { SettingsRepo } from '../db/repos/settings-repo.js';
import { silentLogger, type Logger } from '../log.js';
import { counter, gauge, histogram } from '../metrics.js';

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
}

export interface SettlementServiceDeps {
  db: Database;
  blake3: Blake3Hasher;
  registry: Registry;
  now?: () => number;
  logger?: Logger;
}

const MODE_KEY = 'settlement_mode';

/** A settlement request a person can fix (bad delay, unreadable stored mode, amount out of range). */
export class SettlementError extends TesseraError {
  constructor(message: string, code = 'SETTLEMENT') {
    super(code, message);
    this.name = 'SettlementError';
  }
}

/**
 * Settles receipts into the double-entry ledger. DryRun (default) records receipts and moves
 * nothing; Armed turns Real at its activation time (persisted, so it survives restarts); Real
 * debits the buyer and credits the provider in the same transaction that marks the receipt
 * applied. A failure archives the receipt with its reason and reverts to DryRun.
 */
export class SettlementService {
  private readonly db: Database;
  private readonly ledger: LedgerRepo;
  private readonly receipts: ReceiptRepo;
  private readonly counters: CounterRepo;
  private readonly settings: SettingsRepo;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly persistFail;
  private readonly corrupt;
  private readonly latency;

  constructor(private readonly deps: SettlementServiceDeps) {
    this.db = deps.db;
    this.ledger = new LedgerRepo(deps.db);
    this.receipts = new ReceiptRepo(deps.db);
    this.counters = new CounterRepo(deps.db);
    this.settings = new SettingsRepo(deps.db);
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger ?? silentLogger;
    this.counters.register(deps.registry, [
      { name: 'settle_applied_total', help: 'Receipts debited from the buyer and credited to the provider.' },
      { name: 'settle_failed_total', help: 'Receipts that failed to settle, by reason.', labelNames: ['reason'] },
      { name: 'settle_mode_change_total', help: 'Settlement mode transitions, by new mode.', labelNames: ['to'] },
      { name: 'matches_total', help: 'Receipts processed by the match loop, by dry-run flag.', labelNames: ['dry_run'] },
    ]);
    this.persistFail = counter(deps.registry, { name: 'receipt_persist_fail_total', help: 'Receipt writes that failed in the database.' });
    this.corrupt = counter(deps.registry, { name: 'receipt_corrupt_total', help: 'Stored receipts found damaged at start-up (skipped).' });
    this.latency = histogram(deps.registry, {
      name: 'match_loop_latency_seconds',
      help: 'Time per match-loop iteration (one batch of receipts).',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    const modeNow = () => (this.db.open ? this.currentMode().kind : undefined);
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
        this.logger.warn('damaged receipt skipped', { key: row.idempotency_key, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { checked, corrupt };
  }

  /** The mode in force now (an Armed mode past its time is promoted to Real and persisted). */
  currentMode(): SettlementMode {
    const stored = this.storedMode();
    if (effectiveMode(stored, this.now()).kind === stored.kind) return stored;
    return this.db.transaction(() => this.promoteIfDue(this.now()));
  }

  /** Switches to DryRun or Real immediately. */
  setMode(kind: 'dry_run' | 'real'): SettlementMode {
    return this.db.transaction(() => this.writeMode({ kind }));
  }

  /** Arms settlement: Real after `delaySeconds` (survives restarts). */
  arm(delaySeconds: number): SettlementMode {
    if (!Number.isFinite(delaySeconds) || delaySeconds < 0 || delaySeconds > MAX_ARM_DELAY_SECONDS) {
      throw new SettlementError(`arm delay must be from 0 to ${MAX_ARM_DELAY_SECONDS} seconds (ten years), got ${delaySeconds}`);
    }
    return this.db.transaction(() => this.writeMode({ kind: 'armed', activate_at: this.now() + Math.round(delaySeconds * 1000) }));
  }

  /** Adds credits to an account (an explicit mint entry: the only way credits enter the ledger). */
  fund(account: string, amount: bigint, memo = 'fund'): void {
    if (account.length === 0) throw new SettlementError('account must not be empty');
    if (amount <= 0n || amount > MAX_CREDITS) throw new SettlementError(`amount must be an integer from 1 to ${MAX_CREDITS}`);
    const now = this.now();
    this.db.transaction(() => this.ledger.mint(`mint:${uuidv7()}`, account, amount, memo, now));
  }

  /** Applies one receipt (one match-loop iteration). */
  apply(receipt: Receipt): ApplyResult {
    return this.applyBatch([receipt])[0] as ApplyResult;
  }

  /** Applies a batch of receipts, each in its own transaction; one match-loop iteration. */
  applyBatch(receipts: Receipt[]): ApplyResult[] {
    const stop = this.latency.startTimer();
    try {
      return receipts.map((r) => {
        try {
          return this.db.transaction(() => this.applyOne(r));
        } catch (err) {
          if (err instanceof ReceiptConflictError) {
            this.logger.warn('receipt conflicts with a stored one, skipped', { key: r.idempotency_key });
            return { key: r.idempotency_key, outcome: 'conflict' as const, reason: err.message };
          }
          if (isSqliteError(err)) {
            this.persistFail.inc();
            this.logger.error('receipt write failed', { key: r.idempotency_key, error: (err as Error).message });
          }
          throw err;
        }
      });
    } finally {
      stop();
    }
  }

  status(): SettlementStatus {
    const mode = this.currentMode();
    return {
      mode: mode.kind,
      mode_label: describeMode(mode, this.now()),
      activate_at: mode.kind === 'armed' ? mode.activate_at : null,
      balances: this.ledger.balances().map((b) => ({ account: b.account, balance: b.balance.toString() })),
      receipts: this.receipts.countByStatus(),
    };
  }

  /** The ledger's conservation proof. */
  checkLedger() {
    return this.ledger.checkConservation();
  }

  private applyOne(r: Receipt): ApplyResult {
    const now = this.now();
    const mode = this.promoteIfDue(now);
    const { inserted, row } = this.receipts.insertIfAbsent(r, now);
    const real = mode.kind === 'real';
    if (!inserted && (row.status !== 'recorded' || !real)) return { key: r.idempotency_key, outcome: 'duplicate' };
    this.counters.inc('matches_total', { dry_run: real ? 'false' : 'true' });
    if (!real) return { key: r.idempotency_key, outcome: 'recorded' };

    const balance = this.ledger.balance(r.buyer);
    const failure =
      balance < r.quote_price
        ? { reason: 'insufficient_funds', detail: `buyer ${r.buyer} has ${balance}, needs ${r.quote_price}` }
        : !this.ledger.fits(r.provider, r.quote_price)
          ? { reason: 'overflow', detail: `provider ${r.provider} balance would exceed the ledger's range` }
          : undefined;
    if (failure) {
      const reason = failure.reason;
      this.receipts.setStatus(r.idempotency_key, 'archived', `${reason}: ${failure.detail}`, now);
      this.counters.inc('settle_failed_total', { reason });
      this.writeMode({ kind: 'dry_run' });
      this.logger.warn('settlement failed, reverted to dry-run', { key: r.idempotency_key, reason, buyer: r.buyer });
      return { key: r.idempotency_key, outcome: 'failed', reason };
    }
    this.ledger.transfer(`receipt:${r.idempotency_key}`, r.buyer, r.provider, r.quote_price, `job ${r.job_id}`, now);
    this.receipts.setStatus(r.idempotency_key, 'applied', null, now);
    this.counters.inc('settle_applied_total');
    return { key: r.idempotency_key, outcome: 'applied' };
  }

  private storedMode(): SettlementMode {
    const text = this.settings.get(MODE_KEY);
    if (text === undefined) return { kind: 'dry_run' };
    try {
      return decodeMode(text);
    } catch {
      throw new SettlementError(`the stored settlement mode "${text.slice(0, 40)}" is not valid; reset it with \`tessera settlement mode dry-run\``);
    }
  }

  /** Inside a transaction: promotes a due Armed mode to Real; returns the mode in force. */
  private promoteIfDue(now: number): SettlementMode {
    const stored = this.storedMode();
    const eff = effectiveMode(stored, now);
    if (eff.kind !== stored.kind) this.writeMode(eff);
    return eff;
  }

  private writeMode(mode: SettlementMode): SettlementMode {
    let before: SettlementMode | { kind: 'invalid' };
    try {
      before = this.storedMode();
    } catch {
      before = { kind: 'invalid' }; // an unreadable stored mode can always be overwritten
    }
    this.settings.set(MODE_KEY, encodeMode(mode));
    if (before.kind !== mode.kind) {
      this.counters.inc('settle_mode_change_total', { to: mode.kind });
      this.logger.info('settlement mode changed', { from: before.kind, to: mode.kind });
    }
    return mode;
  }
}

function isSqliteError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}
