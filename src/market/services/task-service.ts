import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { formatAmount } from '../../core/market/amount.js';
import { verificationSurcharge } from '../../core/market/verification-price.js';
import { canonicalJson, type JsonValue } from '../../core/market/canonical.js';
import type { Clock } from '../../core/clock.js';
import { invalidField, MarketError, taskNotFound } from '../errors.js';
import type { CreateTaskBody } from '../http/task-schemas.js';
import { ACCOUNTS } from '../store/accounts-repo.js';
import { HoldShortfall } from '../store/escrow-repo.js';
import type { CustomerRecord } from '../store/customers-repo.js';
import type { MarketStore, MarketTx } from '../store/market-store.js';
import type { VerificationCounts } from '../store/reach-back-repo.js';
import type { SliceRecord } from '../store/slices-repo.js';
import type { PublicTaskStatus, TaskRecord } from '../store/tasks-repo.js';
import { GroupCommit, ItemFailed } from '../group-commit.js';
import { writeSliceChunks } from './slice-chunks.js';

export interface SliceLimits {
  /** Largest slice a customer may upload, bytes. */
  maxSliceBytes: number;
  /** Most slices one task may have. */
  maxSlices: number;
}

export const DEFAULT_SLICE_LIMITS: SliceLimits = { maxSliceBytes: 16 * 1024 * 1024, maxSlices: 1024 };

/**
 * What one customer may keep in unsubmitted slice-input drafts (no reward is held for a draft, so
 * without these a customer with no balance could store input without end). Submitted input does
 * not count: its reward is escrowed.
 */
export interface DraftLimits {
  /** Unsubmitted drafts a customer may have open at once (409 TOO_MANY_DRAFTS beyond). */
  maxOpenDrafts: number;
  /** Bytes of uploaded slices across a customer's unsubmitted drafts (413 DRAFT_QUOTA_EXCEEDED beyond). */
  maxDraftBytes: number;
}

export const DEFAULT_DRAFT_LIMITS: DraftLimits = { maxOpenDrafts: 16, maxDraftBytes: 1024 * 1024 * 1024 };

export interface TaskServiceDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  sliceLimits?: SliceLimits;
  draftLimits?: DraftLimits;
}

/** The input bytes of a payload-input task: the UTF-8 canonical JSON (RFC 8785) of its validated payload. */
export function payloadInputBytes(payload: JsonValue): Buffer {
  return Buffer.from(canonicalJson(payload), 'utf8');
}

/** A task as `create` builds it, before it is stored. */
type NewTask = Parameters<MarketTx['tasks']['insert']>[0] & { surcharge: bigint };

/** 402 INSUFFICIENT_FUNDS: a reward (with its surcharge) above the customer's balance. */
function insufficientFunds(amount: bigint, balance: bigint, customerName: string): MarketError {
  return new MarketError(
    'INSUFFICIENT_FUNDS',
    402,
    `reward ${formatAmount(amount)} CPC exceeds the balance of ${formatAmount(balance)} CPC; fund the account (tessera market fund ${customerName} AMOUNT) or lower the reward`,
    { balance: formatAmount(balance), amount: formatAmount(amount) },
  );
}

/** Creating, submitting, reading and expiring tasks; escrow moves in the same transaction as the task row. */
export class TaskService {
  private readonly limits: SliceLimits;
  private readonly drafts: DraftLimits;
  /**
   * Payload tasks posted while a group of posts commits wait and commit together, in one
   * transaction (one lock of each customer's funds per group, not per post: a customer posting
   * from many clients no longer queues on its own account row for a commit per task).
   */
  private readonly posts: GroupCommit<{ task: NewTask; customerName: string }, TaskRecord>;
  private postChain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: TaskServiceDeps) {
    this.limits = deps.sliceLimits ?? DEFAULT_SLICE_LIMITS;
    this.drafts = deps.draftLimits ?? DEFAULT_DRAFT_LIMITS;
    this.posts = new GroupCommit<{ task: NewTask; customerName: string }, TaskRecord>({
      commit: (group) => this.commitPosts(group),
      // One group at a time: the posts that arrive meanwhile form the next.
      schedule: (flush) => {
        const run = this.postChain.then(flush);
        this.postChain = run.catch(() => undefined);
        return run;
      },
      // Each post of a failed group was rejected with the error already.
      onError: () => undefined,
    });
  }

  get draftLimits(): DraftLimits {
    return this.drafts;
  }

  get sliceLimits(): SliceLimits {
    return this.limits;
  }

  /**
   * Creates a task. Payload input: the reward is escrowed and the task is pending. Slice input:
   * the task is a draft (public status pending) until `submit`, which escrows.
   */
  async create(customer: CustomerRecord, body: CreateTaskBody): Promise<TaskRecord> {
    const now = this.deps.clock.now();
    if (body.deadline !== undefined && body.deadline * 1000 <= now)
      throw invalidField(
        'deadline',
        `${body.deadline} is not in the future (Unix seconds; now is ${Math.floor(now / 1000)})`,
      );
    const task = {
      taskId: randomUUID(),
      customerId: customer.customerId,
      challengeType: body.challenge_type,
      payload: body.payload as JsonValue,
      reward: body.reward,
      deadline: body.deadline === undefined ? null : body.deadline * 1000,
      status: body.input === 'slices' ? ('draft' as const) : ('pending' as const),
      inputKind: body.input,
      gpuRequired: body.payload.gpu_required ?? false,
      lane: body.payload.lane ?? 'consumer',
      createdAt: now,
      verification: body.verification,
      surcharge: verificationSurcharge(body.reward, body.verification),
    };
    if (task.status === 'pending') return this.posts.add({ task, customerName: customer.name });
    return this.deps.store.transaction(async (tx) => {
      if (task.status === 'draft') {
        const { drafts } = await tx.tasks.draftUsage(customer.customerId, { lock: true });
        if (drafts >= this.drafts.maxOpenDrafts)
          throw new MarketError(
            'TOO_MANY_DRAFTS',
            409,
            `this customer has ${drafts} unsubmitted slice-input drafts, the limit is ${this.drafts.maxOpenDrafts}; submit one or delete one (DELETE /tasks/{task_id}) first`,
            { limit: this.drafts.maxOpenDrafts },
          );
      }
      return tx.tasks.insert(task);
    });
  }

  /**
   * Commits a group of payload tasks in one transaction: the customers' funds locked and read
   * once, each task held in turn while its customer's balance covers it (a post that does not fit
   * is refused alone, 402 INSUFFICIENT_FUNDS, and nothing of it is stored), then every accepted
   * task, escrow posting and escrow row written with one statement per kind, and one wake-up.
   */
  private async commitPosts(
    group: readonly { task: NewTask; customerName: string }[],
  ): Promise<(TaskRecord | ItemFailed)[]> {
    // One customer's group (one customer posting from many clients, the hot case) first tries the
    // short way: the tasks are written, then one statement debits the funds only if they cover the
    // whole group, and COMMIT follows. The funds row is then locked for that statement and the
    // commit alone (across instances, every post of the customer queues on it). When the funds do
    // not cover the group, nothing of that try commits and the group is decided post by post.
    if (new Set(group.map((p) => p.task.customerId)).size === 1) {
      try {
        return await this.commitCoveredPosts(group);
      } catch (err) {
        if (!(err instanceof HoldShortfall)) throw err;
      }
    }
    return this.commitPostsOneByOne(group);
  }

  /** A group whose funds cover it whole: tasks written, then held in one statement (HoldShortfall if not covered). */
  private async commitCoveredPosts(group: readonly { task: NewTask }[]): Promise<TaskRecord[]> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      // The tasks and their holds leave in one write (the server runs them in turn).
      const [inserted] = await tx.together(
        () => tx.tasks.insertMany(group.map((p) => p.task)),
        () =>
          tx.escrow.holdMany(
            group.map(({ task: t }) => ({
              taskId: t.taskId,
              customerId: t.customerId,
              amount: t.reward + t.surcharge,
            })),
            now,
          ),
      );
      const stored = new Map(inserted.map((t) => [t.taskId, t]));
      return group.map(({ task }) => stored.get(task.taskId) as TaskRecord);
    });
  }

  private async commitPostsOneByOne(
    group: readonly { task: NewTask; customerName: string }[],
  ): Promise<(TaskRecord | ItemFailed)[]> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const funds = await tx.escrow.lockFunds(group.map((p) => p.task.customerId));
      const accepted: NewTask[] = [];
      const refused = new Map<NewTask, ItemFailed>();
      for (const { task, customerName } of group) {
        const amount = task.reward + task.surcharge;
        const balance = funds.get(task.customerId) ?? 0n;
        if (amount > balance) refused.set(task, new ItemFailed(insufficientFunds(amount, balance, customerName)));
        else {
          funds.set(task.customerId, balance - amount);
          accepted.push(task);
        }
      }
      // The rows as stored: the escrow holds and the notification below do not change them.
      const stored = await tx.tasks.insertMany(accepted);
      await tx.escrow.holdMany(
        accepted.map((t) => ({ taskId: t.taskId, customerId: t.customerId, amount: t.reward + t.surcharge })),
        now,
      );
      // No wake-up here: the instance posted to splits the tasks at once (its dispatcher is kicked
      // when the request is answered) and that split wakes every instance (`jobs_ready`); another
      // instance's sweep timer splits them should this one stop first.
      const byId = new Map(stored.map((t) => [t.taskId, t]));
      return group.map(({ task }) => refused.get(task) ?? (byId.get(task.taskId) as TaskRecord));
    });
  }

  /** Queues a slice-input draft: needs slices 0…k-1 uploaded; escrows the reward. */
  async submit(customer: CustomerRecord, taskId: string): Promise<{ task: TaskRecord; slices: SliceRecord[] }> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const task = await this.owned(tx, customer, taskId, true);
      if (task.status !== 'draft')
        throw new MarketError(
          'TASK_NOT_DRAFT',
          409,
          `task ${taskId} was already submitted (status ${task.status}); only a task created with "input": "slices" is submitted, once`,
        );
      const slices = await tx.slices.list(taskId);
      const gap = slices.findIndex((s, i) => s.n !== i);
      if (slices.length === 0)
        throw new MarketError(
          'SLICES_MISSING',
          409,
          `task ${taskId} has no slices; upload them with PUT /tasks/${taskId}/slices/0, 1, … before submitting`,
        );
      if (gap !== -1)
        throw new MarketError(
          'SLICES_MISSING',
          409,
          `task ${taskId} lacks slice ${gap}; slices must be numbered 0…${slices.length} without gaps`,
        );
      await this.escrow(tx, customer, taskId, task.reward + task.surcharge, now);
      await tx.tasks.transition(taskId, ['draft'], 'pending', now);
      await tx.notify('jobs_ready');
      return { task: (await tx.tasks.get(taskId)) as TaskRecord, slices };
    });
  }

  /**
   * Streams one slice into the store (size-limited, hashed with BLAKE3 on the way, in chunks of
   * SLICE_CHUNK_BYTES) and records it. Only a draft accepts slices; re-uploading slice n replaces
   * it. A refused or failed upload stores nothing and leaves the slice it would replace as it was.
   */
  async putSlice(
    customer: CustomerRecord,
    taskId: string,
    n: number,
    body: Readable,
    /** The request's Content-Length, when it has one: an upload that cannot fit is refused before a byte is stored. */
    declaredBytes?: number,
  ): Promise<SliceRecord> {
    if (n >= this.limits.maxSlices)
      throw invalidField(
        'n',
        `slice ${n} is beyond the limit of ${this.limits.maxSlices} slices per task (0…${this.limits.maxSlices - 1})`,
      );
    const room = await this.deps.store.transaction(async (tx) => {
      this.assertDraft(await this.owned(tx, customer, taskId, false));
      return (
        this.drafts.maxDraftBytes - (await tx.tasks.draftUsage(customer.customerId, { except: { taskId, n } })).bytes
      );
    });
    const overQuota = (size: string) =>
      new MarketError(
        'DRAFT_QUOTA_EXCEEDED',
        413,
        `slice ${n} (${size}) does not fit in the ${Math.max(0, room)} bytes left of this customer's quota of ${this.drafts.maxDraftBytes} bytes for unsubmitted drafts; submit or delete drafts first`,
        { limit: this.drafts.maxDraftBytes },
      );
    if (declaredBytes !== undefined && declaredBytes > room) throw overQuota(`${declaredBytes} bytes`);
    const max = this.limits.maxSliceBytes;
    const written = await writeSliceChunks(this.deps, { taskId, n }, body, (bytes) => {
      if (bytes > max)
        return new MarketError(
          'SLICE_TOO_LARGE',
          413,
          `slice ${n} is larger than the limit of ${max} bytes; split the input into more slices`,
        );
      if (bytes > room) return overQuota(`over ${room} bytes`);
      return undefined;
    });
    const record = { taskId, n, bytes: written.bytes, blake3: written.blake3 };
    try {
      await this.deps.store.transaction(async (tx) => {
        this.assertDraft(await this.owned(tx, customer, taskId, true));
        // Again under the customer's lock: concurrent uploads of one customer must not share the room left.
        const used = await tx.tasks.draftUsage(customer.customerId, { lock: true, except: { taskId, n } });
        if (used.bytes + written.bytes > this.drafts.maxDraftBytes) throw overQuota(`${written.bytes} bytes`);
        // An upload stalled past the start-up sweep's age (ABANDONED_UPLOAD_MS) may have lost chunks to it.
        if ((await tx.slices.uploadBytes(written.uploadId)) !== written.bytes)
          throw new MarketError(
            'UPLOAD_INTERRUPTED',
            409,
            `slice ${n} was not stored in full (the upload was cut off for too long); upload it again`,
          );
        const replaced = await tx.slices.put({ ...record, uploadId: written.uploadId }, this.deps.clock.now());
        if (replaced) await tx.slices.dropUpload(replaced);
      });
    } catch (err) {
      // Chunks no slice points at; should this fail too, the next start's sweep drops them (slices.dropAbandoned).
      await this.deps.store.transaction((tx) => tx.slices.dropUpload(written.uploadId)).catch(() => undefined);
      throw err;
    }
    return record;
  }

  /** Deletes an unsubmitted draft and its uploaded slices (409 TASK_NOT_DRAFT for any other task). */
  async deleteDraft(customer: CustomerRecord, taskId: string): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      const task = await this.owned(tx, customer, taskId, true);
      if (task.status !== 'draft' || !(await tx.tasks.deleteDraft(taskId)))
        throw new MarketError(
          'TASK_NOT_DRAFT',
          409,
          `task ${taskId} is not an unsubmitted draft (status ${task.status}); only a draft can be deleted`,
        );
      await tx.slices.dropTask(taskId);
    });
  }

  async get(
    customer: CustomerRecord,
    taskId: string,
  ): Promise<TaskRecord & { sliceCount: number; checks: VerificationCounts }> {
    return this.deps.store.transaction(async (tx) => {
      const task = await this.owned(tx, customer, taskId, false);
      return {
        ...task,
        sliceCount: task.inputKind === 'slices' ? (await tx.slices.list(taskId)).length : 1,
        checks: (await tx.reachBack.verification([taskId])).get(taskId) as VerificationCounts,
      };
    });
  }

  async list(
    customer: CustomerRecord,
    q: { status?: PublicTaskStatus; challengeType?: TaskRecord['challengeType']; limit: number; offset: number },
  ): Promise<{ tasks: (TaskRecord & { checks: VerificationCounts })[]; total: number }> {
    return this.deps.store.transaction(async (tx) => {
      const page = await tx.tasks.list({ customerId: customer.customerId, ...q });
      const checks = await tx.reachBack.verification(page.tasks.map((t) => t.taskId));
      return {
        tasks: page.tasks.map((t) => ({ ...t, checks: checks.get(t.taskId) as VerificationCounts })),
        total: page.total,
      };
    });
  }

  /** Fails open tasks whose deadline has passed and refunds their escrow; returns their ids. */
  async expireOverdue(limit = 100): Promise<string[]> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const ids = await tx.tasks.overdue(now, limit);
      for (const id of ids) {
        await tx.tasks.fail(id, 'deadline passed before the task completed; the reward was refunded', now);
        await tx.jobs.failOpen(id, 'task deadline passed', now);
      }
      await tx.escrow.refundMany(ids, now);
      return ids;
    });
  }

  private async escrow(
    tx: MarketTx,
    customer: CustomerRecord,
    taskId: string,
    amount: bigint,
    now: number,
  ): Promise<void> {
    if (await tx.escrow.hold(taskId, customer.customerId, amount, now)) return;
    throw insufficientFunds(amount, await tx.accounts.balance(ACCOUNTS.customer(customer.customerId)), customer.name);
  }

  private async owned(tx: MarketTx, customer: CustomerRecord, taskId: string, forUpdate: boolean): Promise<TaskRecord> {
    const task = await tx.tasks.get(taskId, { forUpdate });
    // Another customer's task is reported as absent, so ids leak nothing.
    if (!task || task.customerId !== customer.customerId) throw taskNotFound(taskId);
    return task;
  }

  private assertDraft(task: TaskRecord): void {
    if (task.status !== 'draft')
      throw new MarketError(
        'TASK_NOT_DRAFT',
        409,
        `task ${task.taskId} takes no slices: ${task.inputKind === 'payload' ? 'its input is its payload' : 'it was already submitted'}; create a task with "input": "slices" to upload`,
      );
  }
}
