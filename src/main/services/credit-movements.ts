import { TesseraError } from '../../core/errors.js';
import { marketIdOfBuyer } from '../../core/ledger/receipt.js';
import { decodeMode, effectiveMode, encodeMode, type SettlementMode } from '../../core/ledger/settlement-mode.js';
import type { Clock } from '../../core/clock.js';
import type { Database } from '../db/database.js';
import { CounterRepo, type CounterTally } from '../db/repos/counter-repo.js';
import { inLedgerRange, LedgerRepo, type LedgerBatch } from '../db/repos/ledger-repo.js';
import { MovementRepo, type Movement, type PendingStatus } from '../db/repos/movement-repo.js';
import { ReceiptRepo, type ReceiptStatus } from '../db/repos/receipt-repo.js';
import { SettingsRepo } from '../db/repos/settings-repo.js';
import { silentLogger, type Logger } from '../../node/log.js';
import { noFaults, type Faults } from './faults.js';
import { systemClock } from '../../node/clock.js';

export type { Movement };

/** A settlement request a person can fix (bad delay, unreadable stored mode, amount out of range). */
export class SettlementError extends TesseraError {
  constructor(message: string, code = 'SETTLEMENT') {
    super(code, message);
    this.name = 'SettlementError';
  }
}

/** Why the ledger refused a movement. */
export interface Refusal {
  reason: 'insufficient_funds' | 'overflow';
  detail: string;
}

/** What `move` did: posted to the ledger now, recorded for later (dry-run), or refused (nothing posted). */
export type MoveOutcome = { status: 'applied' } | { status: 'pending' } | ({ status: 'refused' } & Refusal);

/** The state a receipt is stored in after its movement had this outcome (what onApplied/onRefused write). */
export function receiptStateFor(outcome: MoveOutcome): { status: ReceiptStatus; reason: string | null } {
  if (outcome.status === 'applied') return { status: 'applied', reason: null };
  if (outcome.status === 'pending') return { status: 'recorded', reason: null };
  return { status: 'archived', reason: `${outcome.reason}: ${outcome.detail}` };
}

/** Counter increments go to the database now (CounterRepo) or at the end of a batch (CounterTally). */
type CounterSink = Pick<CounterRepo, 'inc'>;

/** What applying the pending movements did. */
export interface PendingApplySummary {
  applied: number;
  failed: { eventId: string; source: Movement['source']; ref: string; reason: string }[];
  /** A receipt failed: settlement reverted to dry-run and the movements after it stay pending. */
  reverted: boolean;
}

export interface CreditMovementsDeps {
  db: Database;
  clock?: Clock;
  logger?: Logger;
  faults?: Faults;
}

const MODE_KEY = 'settlement_mode';
const PAGE = 500;

/**
 * The one way credits move on this node (receipt settlement, courier rewards, SLA slashes),
 * and the settlement mode that governs it.
 *
 * The rule: while settlement is dry-run (or armed and not yet due), every movement is recorded
 * as a pending movement and no balance changes. When the mode turns real — `settlement mode
 * real`, or the first look at an armed mode whose time has passed — the pending movements are
 * applied in the order they were recorded, each exactly once, each in the same transaction as
 * its marking as applied. A pending movement the ledger refuses is marked failed with its
 * reason; a refused receipt is also archived and settlement reverts to dry-run, leaving the
 * movements after it pending. Exempt: `settlement fund` (a mint, the only way credits enter)
 * and bond deposits (a provider moving its own credits into escrow) post in any mode.
 */
export class CreditMovements {
  readonly ledger: LedgerRepo;
  private readonly movements: MovementRepo;
  private readonly receipts: ReceiptRepo;
  private readonly counters: CounterRepo;
  private readonly settings: SettingsRepo;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly faults: Faults;

  constructor(private readonly deps: CreditMovementsDeps) {
    this.faults = deps.faults ?? noFaults;
    this.ledger = new LedgerRepo(deps.db, this.faults);
    this.movements = new MovementRepo(deps.db);
    this.receipts = new ReceiptRepo(deps.db);
    this.counters = new CounterRepo(deps.db);
    this.settings = new SettingsRepo(deps.db);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
  }

  /** The stored mode, as written (an armed mode may be past due). */
  storedMode(): SettlementMode {
    const text = this.settings.get(MODE_KEY);
    if (text === undefined) return { kind: 'dry_run' };
    try {
      return decodeMode(text);
    } catch {
      throw new SettlementError(
        `the stored settlement mode "${text.slice(0, 40)}" is not valid; reset it with \`tessera settlement mode dry-run\``,
      );
    }
  }

  /**
   * The mode in force now. Reads only, unless an armed mode has come due or real mode still has
   * pending movements: then promotes and applies them in one transaction.
   */
  currentMode(): SettlementMode {
    const stored = this.storedMode();
    const eff = effectiveMode(stored, this.clock.now());
    if (eff.kind === stored.kind && !(eff.kind === 'real' && this.movements.anyPending())) return stored;
    return this.deps.db.transaction(() => this.modeInForce());
  }

  /** Inside a transaction: promotes a due armed mode, applies pending movements when real; returns the mode in force. */
  modeInForce(): SettlementMode {
    const stored = this.storedMode();
    const eff = effectiveMode(stored, this.clock.now());
    if (eff.kind !== stored.kind) this.writeMode(eff);
    if (eff.kind === 'real' && this.movements.anyPending()) {
      this.applyPending();
      return this.storedMode(); // a refused receipt reverts to dry-run
    }
    return eff;
  }

  /** Switches to dry-run or real now; turning real applies the pending movements. */
  setMode(kind: 'dry_run' | 'real'): { mode: SettlementMode; pending: PendingApplySummary } {
    return this.deps.db.transaction(() => {
      this.writeMode({ kind });
      const pending = kind === 'real' ? this.applyPending() : { applied: 0, failed: [], reverted: false };
      return { mode: this.storedMode(), pending };
    });
  }

  /** Arms settlement: real at `activateAt` (ms). */
  arm(activateAt: number): SettlementMode {
    return this.deps.db.transaction(() => {
      this.writeMode({ kind: 'armed', activate_at: activateAt });
      return this.modeInForce().kind === 'real' ? this.storedMode() : { kind: 'armed', activate_at: activateAt };
    });
  }

  /**
   * Inside a transaction: moves credits under the rule above. Real: checks, posts and returns
   * `applied` (or `refused`, posting nothing). Otherwise records a pending movement.
   */
  move(m: Movement, modeNow?: SettlementMode): MoveOutcome {
    // `modeNow`: the mode the caller read with modeInForce() in this same transaction.
    const mode = modeNow ?? this.modeInForce();
    if (mode.kind !== 'real') {
      this.movements.insert(m, this.clock.now());
      this.faults('movement.recorded');
      return { status: 'pending' };
    }
    const refusal = this.refusal(m);
    this.faults('movement.checked');
    if (refusal) {
      this.onRefused(m, refusal);
      return { status: 'refused', ...refusal };
    }
    this.post(m);
    this.onApplied(m);
    this.faults('movement.settled');
    return { status: 'applied' };
  }

  /**
   * Inside a transaction: starts a batch of receipt movements (`settlement apply`). Reads the
   * mode in force once (promoting a due armed mode first, see modeInForce); see ReceiptBatch.
   */
  receiptBatch(): ReceiptBatch {
    const mode = this.modeInForce();
    return new ReceiptBatch(
      mode,
      this.ledger.batch(),
      this.movements,
      this.counters.tally(),
      (m, refusal, counters) => this.revert(m, refusal, counters),
      this.clock,
      this.faults,
    );
  }

  /** True if a movement under this event id was recorded or posted. */
  known(eventId: string): boolean {
    return this.movements.has(eventId) || this.ledger.postingsFor(eventId) > 0;
  }

  /** Pending movements by status. */
  counts(): Record<PendingStatus, number> {
    return this.movements.countByStatus();
  }

  /** Inside a transaction: applies pending movements in order, each once, marked in the same transaction. */
  private applyPending(): PendingApplySummary {
    const now = this.clock.now();
    const summary: PendingApplySummary = { applied: 0, failed: [], reverted: false };
    let after = 0n;
    for (;;) {
      const page = this.movements.nextPending(after, PAGE);
      if (page.length === 0) break;
      for (const m of page) {
        after = m.seq;
        const refusal = this.refusal(m);
        this.faults('pending.checked');
        if (refusal) {
          const reason = `${refusal.reason}: ${refusal.detail}`;
          this.movements.settle(m.seq, 'failed', reason, now);
          this.onRefused(m, refusal);
          summary.failed.push({ eventId: m.eventId, source: m.source, ref: m.ref, reason });
          if (m.source === 'receipt') {
            summary.reverted = true;
            this.logPending(summary);
            return summary;
          }
          continue;
        }
        this.post(m);
        this.movements.settle(m.seq, 'applied', null, now);
        this.onApplied(m);
        this.faults('pending.applied');
        summary.applied++;
      }
    }
    this.logPending(summary);
    return summary;
  }

  private logPending(s: PendingApplySummary): void {
    if (s.applied > 0 || s.failed.length > 0)
      this.logger.info('pending credit movements applied', {
        applied: s.applied,
        failed: s.failed.length,
        reverted: s.reverted,
      });
  }

  private refusal(m: Movement): Refusal | undefined {
    return refusalOf(m, (account) => this.ledger.balance(account));
  }

  private post(m: Movement): void {
    const now = this.clock.now();
    if (m.kind === 'burn') this.ledger.burn(m.eventId, m.from, m.amount, m.memo, now);
    else this.ledger.transfer(m.eventId, m.from, m.to as string, m.amount, m.memo, now);
  }

  private onApplied(m: Movement): void {
    if (m.source !== 'receipt') return;
    this.receipts.setStatus(m.ref, 'applied', null, this.clock.now());
    this.faults('receipt.applied');
    this.counters.inc('settle_applied_total');
  }

  private onRefused(m: Movement, refusal: Refusal): void {
    if (m.source !== 'receipt') {
      this.logger.warn('credit movement refused by the ledger', {
        event: m.eventId,
        reason: refusal.reason,
        detail: refusal.detail,
      });
      return;
    }
    this.receipts.setStatus(m.ref, 'archived', `${refusal.reason}: ${refusal.detail}`, this.clock.now());
    this.revert(m, refusal, this.counters);
  }

  /** A receipt was refused (its row archived by the caller): count it and revert to dry-run. */
  private revert(m: Movement, refusal: Refusal, counters: CounterSink): void {
    counters.inc('settle_failed_total', { reason: refusal.reason });
    this.writeMode({ kind: 'dry_run' }, counters);
    this.logger.warn('settlement failed, reverted to dry-run', { key: m.ref, reason: refusal.reason, account: m.from });
  }

  private writeMode(mode: SettlementMode, counters: CounterSink = this.counters): void {
    let before: SettlementMode | { kind: 'invalid' };
    try {
      before = this.storedMode();
    } catch {
      before = { kind: 'invalid' }; // an unreadable stored mode can always be overwritten
    }
    this.settings.set(MODE_KEY, encodeMode(mode));
    if (before.kind !== mode.kind) {
      counters.inc('settle_mode_change_total', { to: mode.kind });
      this.logger.info('settlement mode changed', { from: before.kind, to: mode.kind });
    }
  }
}

/** True for a movement out of an issuer account, which may go below zero (see refusalOf). */
function isIssuer(m: Movement): boolean {
  return m.source === 'courier' || (m.source === 'receipt' && marketIdOfBuyer(m.from) !== undefined);
}

/** Why the ledger would refuse a movement, given the balances it would read now (one rule for `move` and batches). */
function refusalOf(m: Movement, balance: (account: string) => bigint): Refusal | undefined {
  const have = balance(m.from);
  // Only issuer accounts may go below zero: the market's courier account, and a market's account
  // `market:<id>` on the receipts it signed (docs/earnings.md: its negative balance is what that
  // market has paid this node and the node has settled). Every other account needs the funds.
  if (!isIssuer(m) && have < m.amount) {
    const who = m.source === 'receipt' ? `buyer ${m.from}` : `bond ${m.from}`;
    return { reason: 'insufficient_funds', detail: `${who} has ${have}, needs ${m.amount}` };
  }
  if (!inLedgerRange(have - m.amount))
    return { reason: 'overflow', detail: `${m.from} balance would leave the ledger's range` };
  if (m.to !== undefined && !inLedgerRange(balance(m.to) + m.amount)) {
    const who = m.source === 'receipt' ? `provider ${m.to}` : m.to;
    return { reason: 'overflow', detail: `${who} balance would exceed the ledger's range` };
  }
  return undefined;
}

/**
 * The movements of one batch of receipts, inside the batch's transaction, under the same rule
 * and with the same outcome per receipt as `move` one after another. The mode is read once
 * when the batch starts (nothing else changes it inside the transaction; a refused receipt
 * reverts it to dry-run for the rest of the batch, as it does in the database); balances are
 * read once per account and kept in memory (LedgerBatch); postings, pending movements and
 * counters are written by `flush()`, which must run before the transaction commits.
 *
 * Per receipt: `plan` says what moving it would do (reads only), the caller stores the
 * receipt in the state receiptStateFor(plan) gives, and — only if the receipt was new —
 * `commit` records the movement.
 */
export class ReceiptBatch {
  private pending: { m: Movement; now: number }[] = [];
  /** Receipts settled in real mode so far (settle_applied_total), counted here and tallied at flush. */
  private applied = 0n;

  constructor(
    private modeNow: SettlementMode,
    private readonly ledger: LedgerBatch,
    private readonly movements: MovementRepo,
    /** Counter increments of the batch; the caller may add its own. */
    readonly counters: CounterTally,
    private readonly revert: (m: Movement, refusal: Refusal, counters: CounterSink) => void,
    private readonly clock: Clock,
    private readonly faults: Faults,
  ) {}

  /** The mode the next receipt is settled under. */
  get mode(): SettlementMode {
    return this.modeNow;
  }

  /** What moving `m` would do now; changes nothing. */
  plan(m: Movement): MoveOutcome {
    if (this.modeNow.kind !== 'real') return { status: 'pending' };
    const refusal = refusalOf(m, (account) => this.ledger.balance(account));
    return refusal ? { status: 'refused', ...refusal } : { status: 'applied' };
  }

  /** Records `m` under the outcome `plan` gave (its receipt stored in the matching state). */
  commit(m: Movement, outcome: MoveOutcome): void {
    const now = this.clock.now();
    if (outcome.status === 'pending') {
      this.pending.push({ m, now });
    } else if (outcome.status === 'refused') {
      this.revert(m, outcome, this.counters);
      this.modeNow = { kind: 'dry_run' };
      this.faults('settle.reverted');
    } else {
      if (m.kind === 'burn' || m.to === undefined) throw new Error('a receipt batch moves transfers only');
      this.ledger.transfer(m.eventId, m.from, m.to, m.amount, m.memo, now);
      this.applied++;
    }
  }

  /** Writes what the batch did: balances, postings, pending movements, counters (a fault point after each). */
  flush(): void {
    this.ledger.flush();
    if (this.pending.length > 0) {
      this.movements.insertMany(this.pending);
      this.pending = [];
      this.faults('movement.recorded');
    }
    if (this.applied > 0n) this.counters.inc('settle_applied_total', {}, this.applied);
    this.applied = 0n;
    if (this.counters.flush()) this.faults('settle.counted');
  }
}
