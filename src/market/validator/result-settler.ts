import type { JsonValue } from '../../core/market/canonical.js';
import {
  COMPUTE_RESULT_CODES,
  computeResultToJson,
  parseComputeResult,
  verifyComputeResult,
  type ComputeResult,
  type SignatureCheck,
} from '../../core/market/compute-result.js';
import { resultSignatureCheck } from '../../node/signing/result-signing.js';
import { CLOSE_CODES, type ResultFrame } from '../../shared/market-protocol.js';
import type { MarketTx } from '../store/market-store.js';
import type { AssignmentRecord, JobInput } from '../store/validator-repo.js';
import { UUID_TEXT, type GroupRow, type ResultRow } from '../store/settlement-repo.js';
import { GroupCommit, ItemFailed } from '../group-commit.js';
import type { ProviderSession } from './provider-session.js';
import { readJobBytes } from './split.js';
import { payTasks, type PaidReceipt } from './task-payout.js';
import { probationPolicy } from './validator-config.js';
import { reexecuteAssignment } from './reach-back.js';
import { ValidatorClosingError, type ResultAck, type ValidatorContext } from './validator-context.js';

/** A result whose signature, market and freshness passed, waiting for the next group commit. */
interface PendingResult {
  session: ProviderSession;
  result: ComputeResult;
  /** The assignment epoch the provider made the result for. */
  epoch: number;
}

type Receipt = PaidReceipt;

export interface ResultSettlerDeps {
  /** Wakes dispatch (a settled job frees room on its provider). */
  kick(): void;
  /** Receipts sent on `session` here (receipt delivery does not send them again). */
  noteSent(session: ProviderSession, keys: readonly string[]): void;
  /** Schedules a reach-back pass (a provider failed a check: its earlier unchecked results are re-verified, reach-back.ts). */
  reachBack(): void;
}

/**
 * The result settler: verifies every result (signature, market, freshness with no store access;
 * nonce and lease in the store), settles results in group commits (`settleWindowMs` after the
 * first of a group; a constant number of statements per group), re-executes the sampled
 * fraction, compares the two runs of paired jobs and resolves their disputes by re-execution,
 * pays completed tasks and sends their receipts to the providers connected here. Safe on every
 * instance at once: each settles the results of its own sockets, and the store's locks (nonce
 * claims, the job's lease, the task lock before payment) decide between instances. `runOnce`
 * commits the results waiting now.
 */
export class ResultSettler {
  /** Group commits of results so far: how many, the results and receipts in them, and the time inside their transactions (ms). */
  readonly settleStats = { commits: 0, results: 0, receipts: 0, ms: 0 };
  /** Results waiting for their group commit (settleWindowMs after the first of a group). */
  private readonly pending: GroupCommit<PendingResult, ResultAck>;
  private readonly checks = new WeakMap<ProviderSession, SignatureCheck>();
  /** Providers refused by the latest settlement, disconnected once its receipts are out. */
  private readonly toRefuse = new Set<string>();
  /** A provider failed a check in the latest settlement: a reach-back pass is due once it commits. */
  private reachBackDue = false;

  constructor(
    private readonly ctx: ValidatorContext,
    private readonly deps: ResultSettlerDeps,
  ) {
    this.pending = new GroupCommit<PendingResult, ResultAck>({
      commit: (batch) => this.flushNow(batch),
      schedule: (flush) => ctx.steps.serial(flush, 'settle'),
      onError: (err) => ctx.report('settle', err),
      windowMs: ctx.config.settleWindowMs,
    });
  }

  /** Commits the results waiting now, as one group (what the window timer schedules). */
  runOnce(): Promise<void> {
    return this.pending.flush();
  }

  /** Stops the window timer and settles the results already received (on the step queue, as the most urgent kind). */
  async close(): Promise<void> {
    this.pending.dispose();
    await this.ctx.steps.serial(() => this.pending.flush(), 'settle');
  }

  /**
   * Verifies one result: MALFORMED / WRONG_MARKET / STALE / BAD_SIGNATURE from the result and the
   * session's key, with no store access; then the result joins the next group commit, which
   * decides REPLAYED and NOT_LEASED for the whole group with one locked read, re-executes the
   * checked ones and writes the group set-based (settleGroup). Resolves once the commit holding it
   * is durable.
   *
   * Freshness (STALE) is judged against `receivedAt`, the market's clock when the frame arrived
   * (the socket reads it with `now()` on receipt), not when this runs: a result that was fresh on
   * arrival stays fresh however long it waits behind other work.
   */
  async submitResult(
    session: ProviderSession,
    frame: ResultFrame,
    receivedAt: number = this.ctx.clock.now(),
  ): Promise<ResultAck> {
    if (this.ctx.isClosed()) throw new ValidatorClosingError();
    const jobId = frame.result.job_id;
    const refuse = (code: string, message: string): ResultAck => ({
      jobId,
      epoch: frame.epoch,
      accepted: false,
      code,
      message,
    });
    const verdict = verifyComputeResult(
      frame.result,
      { marketId: this.ctx.identity.marketId, now: receivedAt },
      this.signatureCheck(session),
    );
    if (!verdict.ok) return refuse(verdict.code, verdict.message);
    return this.pending.add({ session, result: verdict.result, epoch: frame.epoch });
  }

  /** The session's result signature check, made once per session (parsing its key costs about as much as a verification). */
  private signatureCheck(session: ProviderSession): SignatureCheck {
    let check = this.checks.get(session);
    if (!check) {
      check = resultSignatureCheck(session.publicKey, this.ctx.blake3);
      this.checks.set(session, check);
    }
    return check;
  }

  /** The validator's own run of an assignment: the digests an honest provider returns for it. */
  private async reexecute(
    input: JobInput,
    bytes: Uint8Array,
    a: Pick<AssignmentRecord, 'assignmentKey' | 'blockHash'>,
    workerAddress: string,
  ): Promise<{ resultHash: string; proof: string }> {
    return reexecuteAssignment(this.ctx, input, bytes, a, workerAddress);
  }

  /**
   * Settles every gathered result in one transaction (a group commit) with a constant number of
   * statements whatever the group's size (settleGroup, pairSteps, payTasks), then acks them and
   * sends receipts. A result whose re-execution failed is answered with that error alone. The
   * group commit (`pending`) answers each result with its ack once this returns.
   */
  private async flushNow(batch: readonly PendingResult[]): Promise<(ResultAck | ItemFailed)[]> {
    const now = this.ctx.clock.now();
    const t0 = performance.now();
    const { acks, receipts, disputes } = await this.ctx.store.transaction(async (tx) => {
      const group = await this.settleGroup(tx, batch, now);
      // The group's writes leave with the payout's first read (which must see the jobs finished),
      // unless a pair's runs are to be compared first (that read must see them too).
      let writes = group.writes;
      if (group.pairs.size > 0 && writes.length > 0) {
        await tx.together(...writes);
        writes = [];
      }
      const disputed = await this.pairSteps(tx, [...group.pairs], now);
      await tx.notify('result_settled');
      return {
        acks: group.acks,
        receipts: await this.payTasks(tx, [...group.touched], now, writes),
        disputes: disputed,
      };
    });
    this.settleStats.commits++;
    this.settleStats.results += batch.length;
    this.settleStats.receipts += receipts.length;
    this.settleStats.ms += performance.now() - t0;
    // Receipts go out after the acks (deliver sends them on the next turn, after the answers' continuations).
    this.deliver(receipts);
    this.scheduleReachBack();
    for (const primary of disputes)
      this.ctx.steps
        .serial(() => this.resolveDispute(primary), 'settle')
        .catch((err: unknown) => this.ctx.report('dispute', err));
    this.deps.kick();
    return acks.map((a) => ('error' in a ? new ItemFailed(a.error) : a));
  }

  /** Disconnects newly refused providers, then sends receipts (after the acks, which go out in the resolved promises' continuations). */
  deliver(receipts: readonly { provider: string; taskId: string; receipt: JsonValue }[]): void {
    const refused = [...this.toRefuse];
    this.toRefuse.clear();
    if (refused.length > 0)
      setTimeout(
        () =>
          refused.forEach((a) =>
            this.ctx.sessions.get(a)?.close(CLOSE_CODES.refused, 'refused after too many wrong results'),
          ),
        20,
      );
    // Marked sent now, before any other step can run: a receipt delivery pass that starts before
    // the next turn leaves them out instead of sending them a second time.
    const toSend: { session: ProviderSession; taskId: string; receipt: JsonValue }[] = [];
    for (const r of receipts) {
      const session = this.ctx.sessions.get(r.provider);
      if (!session) continue;
      this.deps.noteSent(session, [(r.receipt as { idempotency_key: string }).idempotency_key]);
      toSend.push({ session, taskId: r.taskId, receipt: r.receipt });
    }
    if (toSend.length === 0) return;
    setImmediate(() => {
      for (const r of toSend) r.session.send({ type: 'receipt', receipt: r.receipt as never, task_id: r.taskId });
    });
  }

  /**
   * Compares the two runs of each pair (by primary job id) once both are in, for many pairs with
   * one read and one write. A held run that agrees (same result_hash) with the other run — held
   * too, or already verified by re-execution — is accepted; returns the pairs whose runs disagree,
   * which the validator re-executes to decide (resolveDispute).
   */
  private async pairSteps(tx: MarketTx, primaries: readonly string[], now: number): Promise<string[]> {
    if (primaries.length === 0) return [];
    const runs = await tx.settlement.pairRuns(primaries);
    const disputes: string[] = [];
    const accept: { seq: bigint; jobId: string; verdict: 'accepted'; settledHash: string }[] = [];
    for (const primary of primaries) {
      const x = runs.find((r) => r.primary === primary && r.isPrimary);
      const y = runs.find((r) => r.primary === primary && !r.isPrimary);
      if (!x || !y || !x.done || !y.done || x.resultHash === null || y.resultHash === null) continue;
      if (!x.held && !y.held) continue;
      // Agreement is on both digests: the runs share the pair key, so honest runs have the same proof too.
      if (
        x.resultHash !== y.resultHash ||
        x.digests === null ||
        y.digests === null ||
        x.digests.resultHash !== y.digests.resultHash ||
        x.digests.proof !== y.digests.proof
      ) {
        disputes.push(primary);
        continue;
      }
      for (const run of [x, y])
        if (run.held)
          accept.push({ seq: run.held.seq, jobId: run.jobId, verdict: 'accepted', settledHash: run.held.resultHash });
    }
    await tx.settlement.settleHeldMany(accept, now);
    return disputes;
  }

  /**
   * The two runs of a pair disagree: the validator re-executes each held run against its own
   * assignment key; a run that matches is accepted, one that does not earns nothing and is
   * slashed (WRONG_RESULT) and the slice is settled on the verified digest.
   */
  private async resolveDispute(primary: string): Promise<void> {
    if (this.ctx.isClosed()) return;
    const runs = await this.ctx.store.transaction(async (tx) => {
      const pair = await tx.validator.pairOf(primary);
      const out = [];
      for (const id of pair ? [pair.primary, pair.twin] : []) {
        const held = await tx.validator.heldResult(id);
        const a = await tx.validator.assignment(id);
        const input = await tx.validator.input(id);
        const task = held ? await tx.tasks.get(held.taskId) : undefined;
        if (held && a && input && task)
          out.push({ id, held, a, input, bytes: await readJobBytes(input, task, tx.slices) });
      }
      return out;
    });
    const checked: ((typeof runs)[number] & { expected: { resultHash: string; proof: string } })[] = [];
    for (const run of runs)
      checked.push({ ...run, expected: await this.reexecute(run.input, run.bytes, run.a, run.held.workerAddress) });
    const now = this.ctx.clock.now();
    const receipts = await this.ctx.store.transaction(async (tx) => {
      const tasks = new Set<string>();
      for (const { id, held, expected } of checked) {
        const still = await tx.validator.heldResult(id);
        if (!still || still.seq !== held.seq) continue;
        tasks.add(held.taskId);
        const proof = parseComputeResult(held.result).proof;
        if (expected.resultHash === held.resultHash && expected.proof === proof) {
          await tx.validator.settleHeld(held.seq, id, 'accepted', held.resultHash, now);
          continue;
        }
        await tx.validator.settleHeld(held.seq, id, 'wrong', expected.resultHash, now);
        for (const a of await tx.settlement.penalizeMany(
          [{ address: held.workerAddress, jobId: id }],
          'WRONG_RESULT',
          this.ctx.config.reputationDrop,
          this.ctx.config.refuseAfter,
          now,
        ))
          this.toRefuse.add(a);
        await tx.reachBack.watch([held.workerAddress], now, this.ctx.config.reachBackMs);
        this.reachBackDue = true;
      }
      const paid: { provider: string; taskId: string; receipt: JsonValue }[] = [];
      for (const taskId of tasks) paid.push(...(await this.payIfComplete(tx, taskId, now)));
      return paid;
    });
    this.deliver(receipts);
    this.scheduleReachBack();
  }

  private scheduleReachBack(): void {
    if (!this.reachBackDue) return;
    this.reachBackDue = false;
    this.deps.reachBack();
  }

  /** Pairs left with a held run (a restart between a disagreement and its resolution, or a late twin): compared again. */
  async resumePairs(): Promise<void> {
    const now = this.ctx.clock.now();
    const disputes = await this.ctx.store.transaction(async (tx) => {
      const out: string[] = [];
      out.push(...(await this.pairSteps(tx, await tx.validator.heldPairs(100), now)));
      return out;
    });
    for (const primary of disputes) await this.resolveDispute(primary);
  }

  /**
   * Settles a group of results set-based: one locked read of every result's job, lease and nonce;
   * the checks decided in memory in arrival order (a nonce seen before or earlier in the group is
   * REPLAYED; a job not leased to the sender, or already settled by an earlier result of the
   * group, is NOT_LEASED); the checked ones re-executed; then one statement each for the nonces,
   * the jobs and leases, the results and (when there are any) the penalties. Returns each result's
   * answer in group order and the tasks and pairs it touched.
   */
  private async settleGroup(
    tx: MarketTx,
    batch: readonly PendingResult[],
    now: number,
  ): Promise<{
    acks: (ResultAck | { error: unknown })[];
    touched: Set<string>;
    pairs: Set<string>;
    /** The group's writes still to send (in this order, before anything that reads what they change). */
    writes: (() => Promise<unknown>)[];
  }> {
    const acks: (ResultAck | { error: unknown } | undefined)[] = batch.map(() => undefined);
    const refuse = (i: number, code: string, message: string) => {
      const p = batch[i] as PendingResult;
      acks[i] = { jobId: p.result.job_id, epoch: p.epoch, accepted: false, code, message };
    };
    const replayed = (i: number) => {
      const r = (batch[i] as PendingResult).result;
      refuse(i, 'REPLAYED', `nonce ${r.nonce} of ${r.worker_address} was already used; every result needs a new nonce`);
    };
    const notLeased = (i: number) => {
      const r = (batch[i] as PendingResult).result;
      refuse(i, 'NOT_LEASED', `job ${r.job_id} is not leased to ${r.worker_address}`);
    };
    const lookups: { ord: number; jobId: string; worker: string; nonce: bigint }[] = [];
    batch.forEach((p, i) => {
      if (UUID_TEXT.test(p.result.job_id))
        lookups.push({ ord: i, jobId: p.result.job_id, worker: p.result.worker_address, nonce: p.result.nonce });
    });
    const ctx = await tx.settlement.groupContext(lookups);

    // In arrival order: replays, then the lease (a job settles once per group).
    const nonceKey = (r: ComputeResult) => `${r.worker_address} ${r.nonce.toString()}`;
    const seenNonces = new Set<string>();
    const taken = new Set<string>();
    const live: { i: number; row: GroupRow }[] = [];
    batch.forEach((p, i) => {
      const r = p.result;
      const row = ctx.get(i);
      if (row?.nonceSeen || seenNonces.has(nonceKey(r))) return replayed(i);
      seenNonces.add(nonceKey(r));
      if (
        !row ||
        row.taskId !== r.task_id ||
        row.status !== 'leased' ||
        row.leaseOwner !== r.worker_address ||
        row.provider !== r.worker_address ||
        row.epoch === null ||
        taken.has(row.jobId)
      )
        return notLeased(i);
      // The same provider may hold the job again under a newer assignment (its lease lapsed and the
      // job came back to it): a result keyed for the earlier one is not judged against the new key.
      if (row.epoch !== p.epoch)
        return refuse(
          i,
          COMPUTE_RESULT_CODES.STALE_ASSIGNMENT,
          `result for job ${r.job_id} was made for assignment epoch ${p.epoch}; the job is now assigned at epoch ${row.epoch} — send the result of that assignment`,
        );
      taken.add(row.jobId);
      p.session.inFlight.delete(row.jobId);
      live.push({ i, row });
    });

    // Checked assignments are re-executed (in parallel; off this thread with a digest pool).
    const expected = new Map<number, { resultHash: string; proof: string }>();
    const runs = await Promise.allSettled(
      live
        .filter(({ row }) => row.checked)
        .map(async ({ i, row }) => {
          if (!row.input || !row.assignmentKey)
            throw new Error(`checked job ${row.jobId} has no input or assignment key`);
          expected.set(
            i,
            await this.reexecute(
              row.input,
              await readJobBytes(row.input, { taskId: row.taskId, payload: row.payload as JsonValue }, tx.slices),
              { assignmentKey: row.assignmentKey, blockHash: row.blockHash },
              (batch[i] as PendingResult).result.worker_address,
            ),
          );
        }),
    );
    const failedRuns = new Set<number>();
    live
      .filter(({ row }) => row.checked)
      .forEach(({ i }, k) => {
        const run = runs[k] as PromiseSettledResult<void>;
        if (run.status === 'rejected') {
          acks[i] = { error: run.reason };
          failedRuns.add(i);
        }
      });
    const ready = live.filter(({ i }) => !failedRuns.has(i));

    // Nonces are claimed in the store (another market instance may have claimed one since the read).
    const claimed = await tx.settlement.claimNonces(
      ready.map(({ i }) => ({
        worker: (batch[i] as PendingResult).result.worker_address,
        nonce: (batch[i] as PendingResult).result.nonce,
      })),
      now,
    );
    const settled = ready.filter(({ i }) => {
      if (claimed.has(nonceKey((batch[i] as PendingResult).result))) return true;
      replayed(i);
      return false;
    });

    const touched = new Set<string>();
    const pairs = new Set<string>();
    const jobs: { jobId: string; resultHash: string }[] = [];
    const results: ResultRow[] = [];
    const wrong: { address: string; jobId: string }[] = [];
    for (const { i, row } of settled) {
      const r = (batch[i] as PendingResult).result;
      const e = expected.get(i) ?? null;
      const json = computeResultToJson(r) as unknown as JsonValue;
      const base = {
        jobId: r.job_id,
        taskId: row.taskId,
        workerAddress: r.worker_address,
        epoch: row.epoch as number,
        resultHash: r.result_hash,
        result: json,
      };
      touched.add(row.taskId);
      if (e !== null && (e.resultHash !== r.result_hash || e.proof !== r.proof)) {
        jobs.push({ jobId: r.job_id, resultHash: e.resultHash });
        results.push({ ...base, verdict: 'wrong', settledHash: e.resultHash, checked: true });
        wrong.push({ address: r.worker_address, jobId: r.job_id });
        refuse(
          i,
          'WRONG_RESULT',
          `result for job ${r.job_id} does not match the verified digests; it earns nothing and the bond was slashed`,
        );
        continue;
      }
      jobs.push({ jobId: r.job_id, resultHash: r.result_hash });
      // One run of a pair, not re-executed: committed as held, acknowledged like any other result, judged against the other run.
      const held = e === null && row.pairPrimary !== null;
      if (held) pairs.add(row.pairPrimary as string);
      results.push({
        ...base,
        verdict: held ? 'held' : 'accepted',
        settledHash: r.result_hash,
        checked: held ? false : row.checked,
      });
      acks[i] = {
        jobId: r.job_id,
        epoch: (batch[i] as PendingResult).epoch,
        accepted: true,
        code: null,
        message: null,
      };
    }
    // The jobs finished, the results stored, and passed checks counted (they lengthen each
    // provider's clean streak, and its checked fraction falls with it): returned to be sent in one
    // write with the caller's next statements, or sent now when a wrong result is penalised next.
    const writes = [
      () => tx.settlement.finishJobs(jobs, now),
      () => tx.settlement.insertResults(results, now),
      () =>
        tx.bonds.recordPassed(
          results.filter((r) => r.checked && r.verdict === 'accepted').map((r) => r.workerAddress),
          now,
        ),
    ];
    if (wrong.length === 0) return { acks: acks as (ResultAck | { error: unknown })[], touched, pairs, writes };
    await tx.together(...writes);
    for (const a of await tx.settlement.penalizeMany(
      wrong,
      'WRONG_RESULT',
      this.ctx.config.reputationDrop,
      this.ctx.config.refuseAfter,
      now,
    ))
      this.toRefuse.add(a);
    // A failed check reaches back: the provider's earlier unchecked results are re-verified (reach-back.ts).
    if (wrong.length > 0) {
      await tx.reachBack.watch(
        wrong.map((w) => w.address),
        now,
        this.ctx.config.reachBackMs,
      );
      this.reachBackDue = true;
    }
    return { acks: acks as (ResultAck | { error: unknown })[], touched, pairs, writes: [] };
  }

  /** Pays a task whose every job is done (payTasks for one task). */
  private async payIfComplete(tx: MarketTx, taskId: string, now: number): Promise<Receipt[]> {
    return this.payTasks(tx, [taskId], now);
  }

  /** Pays every task of `taskIds` whose every job is done (task-payout.ts). */
  private async payTasks(
    tx: MarketTx,
    taskIds: readonly string[],
    now: number,
    first: readonly (() => Promise<unknown>)[] = [],
  ): Promise<Receipt[]> {
    const deps = {
      ...this.ctx.identity.payoutDeps(probationPolicy(this.ctx.config)),
      servesHere: (provider: string) => this.ctx.sessions.get(provider) !== undefined,
    };
    return (await payTasks(tx, taskIds, now, deps, first)).receipts;
  }
}
