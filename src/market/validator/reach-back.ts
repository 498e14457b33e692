import { makeReceipt, receiptToJson } from '../../core/ledger/receipt.js';
import type { JsonValue } from '../../core/market/canonical.js';
import { fromHex } from '../../core/hex.js';
import type { Lease } from '../../core/market/lease-state.js';
import { taskResultHash } from '../../core/market/merkle.js';
import { signReceipt } from '../../node/signing/receipt-signing.js';
import { CLOSE_CODES } from '../../shared/market-protocol.js';
import { ACCOUNTS } from '../store/accounts-repo.js';
import type { MarketTx } from '../store/market-store.js';
import type { ReachBackItem } from '../store/reach-back-repo.js';
import type { AssignmentRecord, JobInput } from '../store/validator-repo.js';
import { expectedDigests, jobOutputBytes, readJobBytes } from './split.js';
import { marketBuyer, type PaidReceipt } from './task-payout.js';
import type { ValidatorContext } from './validator-context.js';
import { probationPolicy } from './validator-config.js';

/** Re-verifications one transaction reads and settles at most. */
const ITEMS_PER_PASS = 32;
/**
 * Re-verification transactions one `runOnce` runs at most (1024 results): a refused provider's whole
 * history can be long, and a pass holds the instance's step queue; the rest waits for the next pass.
 */
const TXS_PER_RUN = 32;
/** Reopened tasks one pass completes at most. */
const TASKS_PER_PASS = 100;

/** What one reach-back pass did (the test signal `runOnce` resolves with). */
export interface ReachBackPass {
  /** Results newly queued for re-verification. */
  queued: number;
  /** Re-verified and found right. */
  confirmed: number;
  /** Re-verified and found wrong: the job is redone by another provider. */
  wrong: number;
  /** No longer what their job is settled on (redone or settled since), or not re-executable: left as they were. */
  skipped: number;
  /** Tasks reopened by this pass (they had completed on a wrong result). */
  reopened: string[];
  /** Reopened tasks completed again with their corrected result. */
  completed: string[];
}

export interface ReachBackDeps {
  /** Wakes dispatch (a redone job is queued). */
  kick(): void;
  /** Sends stored receipts to the providers connected here (ResultSettler.deliver). */
  deliver(receipts: readonly PaidReceipt[]): void;
}

/**
 * The validator's own run of an assignment: the digests an honest provider returns for it (the
 * same computation the result settler re-executes checked jobs with).
 */
export async function reexecuteAssignment(
  ctx: Pick<ValidatorContext, 'digester' | 'sha256' | 'blake3'>,
  input: JobInput,
  bytes: Uint8Array,
  a: Pick<AssignmentRecord, 'assignmentKey' | 'blockHash'>,
  workerAddress: string,
): Promise<{ resultHash: string; proof: string }> {
  if (ctx.digester) {
    const synthetic =
      input.workload === 'synthetic'
        ? { block_hash: a.blockHash as string, worker_address: workerAddress, matrix_size: input.matrixSize as number }
        : null;
    return ctx.digester.digest({ data: bytes, key: fromHex(a.assignmentKey), synthetic });
  }
  const output = jobOutputBytes(
    input,
    bytes,
    a.blockHash ? { blockHash: a.blockHash, workerAddress } : null,
    ctx.sha256,
  );
  return expectedDigests(output, fromHex(a.assignmentKey), ctx.blake3);
}

/**
 * The reach-back (docs/market-api.md, "Reach-back"): when a provider fails a check (WRONG_RESULT
 * from a re-execution or a pair's dispute), the result settler records a watch on it in the same
 * transaction; this duty then re-executes the results that provider had accepted without a check
 * before the failure (the newest `reachBackMax`, however old) and for `reachBackMs` after it — and,
 * once the provider is refused, every result it had accepted without a check. A result
 * found wrong is marked wrong and slashed like any wrong result, and its job is queued again (its
 * lease names the cheater, so the dispatcher offers the job to other providers first). A task that
 * had completed on it is reopened: the provider's pay for the job is clawed back to the treasury as
 * far as its balance allows, and once the job is redone — its new result compared with the digests
 * the reach-back verified — the redo is paid from the treasury (the market's mint covers a
 * shortfall), a receipt is stored for it, and the task completes again with the corrected result.
 * The customer is never charged again.
 *
 * Everything it has to do is in the store (watches, queued checks, reopened tasks), so a restart
 * loses nothing: `runOnce` picks up where the last pass stopped. Safe on several instances: a
 * queued check is settled once (checked again under its lock), reopened tasks are taken with SKIP
 * LOCKED. `runOnce` is what the settler's failure path, the timer and the tests call.
 */
export class ReachBack {
  /** True when the last pass left work (a queued check, a reopened task): settled results then wake a pass. */
  private open = false;

  constructor(
    private readonly ctx: ValidatorContext,
    private readonly deps: ReachBackDeps,
  ) {}

  /** Whether the last pass left work waiting (a settled result may finish a reopened task). */
  get hasOpenWork(): boolean {
    return this.open;
  }

  async runOnce(): Promise<ReachBackPass> {
    const pass: ReachBackPass = { queued: 0, confirmed: 0, wrong: 0, skipped: 0, reopened: [], completed: [] };
    if (this.ctx.isClosed()) return pass;
    const now = this.ctx.clock.now();
    const work = await this.ctx.store.transaction(async (tx) => {
      if (!(await tx.reachBack.hasWork())) return false;
      pass.queued = await tx.reachBack.enqueue(now, this.ctx.config.reachBackMax);
      return true;
    });
    if (!work) {
      this.open = false;
      return pass;
    }
    // Redone jobs of reopened tasks queue their own re-verification at completion: one more round settles them.
    let txs = 0;
    for (let round = 0; round < 2 && !this.ctx.isClosed(); round++) {
      while (txs < TXS_PER_RUN) {
        txs++;
        const n = await this.verifySome(pass);
        if (n < ITEMS_PER_PASS || this.ctx.isClosed()) break;
      }
      if ((await this.completeReopened(pass)) === 0) break;
    }
    this.open = await this.ctx.store.transaction((tx) => tx.reachBack.hasWork());
    if (pass.wrong > 0) this.deps.kick();
    if (pass.queued + pass.wrong + pass.completed.length > 0)
      this.ctx.log.info('reach-back pass', {
        queued: pass.queued,
        confirmed: pass.confirmed,
        wrong: pass.wrong,
        skipped: pass.skipped,
        reopened: pass.reopened.length,
        completed: pass.completed.length,
      });
    return pass;
  }

  /** Re-executes up to ITEMS_PER_PASS queued results and settles each; returns how many were read. */
  private async verifySome(pass: ReachBackPass): Promise<number> {
    const items = await this.ctx.store.transaction(async (tx) => {
      const out: { item: ReachBackItem; bytes: Uint8Array | null }[] = [];
      for (const item of await tx.reachBack.pending(ITEMS_PER_PASS)) {
        let bytes: Uint8Array | null = null;
        if (item.current && item.input && item.assignmentKey)
          bytes = await readJobBytes(item.input, { taskId: item.taskId, payload: item.payload }, tx.slices).catch(
            () => null,
          );
        out.push({ item, bytes });
      }
      return out;
    });
    const checked: { item: ReachBackItem; expected: { resultHash: string; proof: string } | null }[] = [];
    for (const { item, bytes } of items) {
      const expected =
        bytes && item.input && item.assignmentKey
          ? await reexecuteAssignment(
              this.ctx,
              item.input,
              bytes,
              { assignmentKey: item.assignmentKey, blockHash: item.blockHash },
              item.address,
            )
          : null;
      checked.push({ item, expected });
    }
    if (checked.length === 0) return 0;
    const now = this.ctx.clock.now();
    const refused = await this.ctx.store.transaction(async (tx) => {
      const wrong: { address: string; jobId: string }[] = [];
      for (const { item, expected } of checked) {
        const state = await tx.reachBack.lockPending(item.seq, item.jobId);
        if (!state.pending) continue;
        if (!state.current || expected === null) {
          await tx.reachBack.finish(item.seq, 'skipped', now);
          pass.skipped++;
          continue;
        }
        if (expected.resultHash === item.resultHash && expected.proof === item.proof) {
          await tx.reachBack.finish(item.seq, 'confirmed', now);
          pass.confirmed++;
          continue;
        }
        pass.wrong++;
        wrong.push({ address: item.address, jobId: item.jobId });
        await this.correct(tx, item, expected, now, pass);
      }
      return this.penalize(tx, wrong, now);
    });
    this.refuse(refused);
    return items.length;
  }

  /**
   * A result found wrong after it was accepted: marked wrong (settled on the verified hash), its job
   * queued again; a task that had completed on it is reopened and the provider's pay for the job is
   * clawed back to the treasury, as far as its balance allows.
   */
  private async correct(
    tx: MarketTx,
    item: ReachBackItem,
    expected: { resultHash: string; proof: string },
    now: number,
    pass: ReachBackPass,
  ): Promise<void> {
    await tx.reachBack.markWrong(item.seq, expected.resultHash);
    const status = await tx.reachBack.lockTask(item.taskId);
    if (status !== 'in_progress' && status !== 'completed' && status !== 'reopened') {
      // A failed (refunded) task is not redone; the result is still recorded as wrong.
      await tx.reachBack.finish(item.seq, 'wrong', now, { expected });
      return;
    }
    await this.requeue(tx, item.jobId, now);
    if (status === 'in_progress') {
      // Not paid yet: the task pays once, on the redone result, from its escrow.
      await tx.reachBack.finish(item.seq, 'wrong', now, { expected });
      return;
    }
    if (status === 'completed') {
      await tx.reachBack.reopen(item.taskId, now);
      pass.reopened.push(item.taskId);
    }
    const paid = await tx.reachBack.paidFor(item.jobId, item.address);
    const worker = ACCOUNTS.worker(item.address);
    const balance = await tx.accounts.balance(worker);
    const clawed = paid < balance ? paid : balance;
    if (clawed > 0n) {
      const ok = await tx.accounts.post(
        `clawback:${item.seq.toString()}`,
        [
          { account: worker, amount: -clawed },
          { account: ACCOUNTS.treasury, amount: clawed },
        ],
        'clawback of a wrong result found by reach-back',
        now,
      );
      if (!ok) throw new Error(`worker account ${worker} cannot cover a clawback of ${clawed}`);
    }
    await tx.reachBack.finish(item.seq, 'wrong', now, { expected, paid, clawed, redo: 'open' });
  }

  /** Queues a done job again; its lease record is revoked (naming the provider that lost it) so the next lease is a respawn to another provider. */
  private async requeue(tx: MarketTx, jobId: string, now: number): Promise<void> {
    await tx.reachBack.requeueDone(jobId, now);
    const a = await tx.validator.assignment(jobId);
    if (a) {
      const old = a.lease as unknown as Lease;
      // A settled job's lease is final ("completed"); revoked from a live state it becomes a respawn, as a lost lease does.
      const live: Lease = { ...old, state: { kind: 'live', sinceMs: now, lastQuorumAliveMs: now } };
      const revoked = this.ctx.machine.revoke(live, now, 'wrong result found by reach-back').lease;
      await tx.validator.updateLease(jobId, revoked as unknown as JsonValue, now);
    }
    await tx.notify('jobs_ready');
  }

  /** Slashes the wrong results as the settler does, and widens the watch on their providers; returns those now refused. */
  private async penalize(tx: MarketTx, wrong: { address: string; jobId: string }[], now: number): Promise<Set<string>> {
    if (wrong.length === 0) return new Set();
    const c = this.ctx.config;
    await tx.reachBack.watch(
      wrong.map((w) => w.address),
      now,
      c.reachBackMs,
    );
    return tx.settlement.penalizeMany(wrong, 'WRONG_RESULT', c.reputationDrop, c.refuseAfter, now);
  }

  private refuse(addresses: Set<string>): void {
    for (const a of addresses)
      this.ctx.sessions.get(a)?.close(CLOSE_CODES.refused, 'refused after too many wrong results');
  }

  /**
   * Completes reopened tasks whose every job is done again. A redone job's result must itself be
   * verified (its key is the new provider's, so the first run's digests do not apply): one drawn
   * for a check at settlement, or confirmed by a re-execution queued here, is paid (from the
   * treasury, the mint covering a shortfall) with a receipt; a job the validator settled on its own
   * digests (the redo was wrong) pays the validator. A task whose redos are all paid completes with
   * its corrected result hash. Returns how many redo results it queued for re-verification.
   */
  private async completeReopened(pass: ReachBackPass): Promise<number> {
    const now = this.ctx.clock.now();
    const payout = this.ctx.identity.payoutDeps(probationPolicy(this.ctx.config));
    const { receipts, queued } = await this.ctx.store.transaction(async (tx) => {
      const receipts: PaidReceipt[] = [];
      let queued = 0;
      for (const taskId of await tx.reachBack.reopenedReady(TASKS_PER_PASS)) {
        let settled = true;
        for (const redo of await tx.reachBack.openRedos(taskId)) {
          const r = redo.now;
          if (!redo.jobDone || !r) {
            settled = false;
            continue;
          }
          const byValidator = r.verdict === 'wrong';
          const verified = r.verdict === 'accepted' && (r.checked || r.reverified === 'confirmed');
          if (!byValidator && !verified) {
            settled = false;
            if (r.reverified === null) {
              await tx.reachBack.enqueueResult(r.seq, now);
              queued++;
            }
            continue;
          }
          const to = verified ? ACCOUNTS.worker(r.workerAddress) : ACCOUNTS.validator;
          await this.payRedo(tx, redo.seq, to, redo.paid, now);
          await tx.reachBack.closeRedo(redo.seq);
          if (verified && redo.paid > 0n) {
            const receipt = signReceipt(
              makeReceipt(
                {
                  job_id: redo.jobId,
                  buyer: marketBuyer(payout.marketId),
                  provider: r.workerAddress,
                  quote_price: redo.paid,
                  issued_at: now,
                },
                payout.blake3,
              ),
              payout.marketId,
              payout.signer,
            );
            const json = receiptToJson(receipt) as unknown as JsonValue;
            await tx.validator.insertReceipt(
              { key: receipt.idempotency_key, jobId: redo.jobId, taskId, provider: r.workerAddress, receipt: json },
              now,
            );
            receipts.push({ provider: r.workerAddress, taskId, receipt: json });
          }
        }
        if (!settled) continue;
        const slices = (await tx.settlement.taskResults([taskId])).get(taskId) ?? [];
        const resultHash = taskResultHash(
          slices.filter((s) => !s.twin).map((s) => s.settledHash),
          payout.blake3,
        );
        if (await tx.reachBack.completeReopened(taskId, resultHash, now)) pass.completed.push(taskId);
      }
      if (receipts.length > 0) await tx.notify('receipt_stored');
      return { receipts, queued };
    });
    this.deps.deliver(receipts);
    return queued;
  }

  /** Pays a redo `amount` from the treasury; what the treasury lacks comes from the mint (the market stands behind the correction). */
  private async payRedo(tx: MarketTx, seq: bigint, to: string, amount: bigint, now: number): Promise<void> {
    if (amount === 0n) return;
    await tx.accounts.ensure(to, to === ACCOUNTS.validator ? 'validator' : 'worker');
    const treasury = await tx.accounts.balance(ACCOUNTS.treasury);
    const fromTreasury = treasury < amount ? treasury : amount;
    const ok = await tx.accounts.post(
      `redo:${seq.toString()}`,
      [
        { account: ACCOUNTS.treasury, amount: -fromTreasury },
        { account: ACCOUNTS.mint, amount: fromTreasury - amount },
        { account: to, amount },
      ],
      'redo of a job whose first result was wrong',
      now,
    );
    if (!ok) throw new Error(`the treasury cannot pay the redo of result ${seq.toString()}`);
  }
}
