import { afterAll, describe, expect, it, vi } from 'vitest';
import type { MarketChannel } from '../../src/market/store/channels.js';
import { MarketStore, type StoreNotification } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import { Dispatcher } from '../../src/market/validator/dispatcher.js';
import { ResultSettler } from '../../src/market/validator/result-settler.js';
import { payloadInputBytes } from '../../src/market/services/task-service.js';
import { silentLogger } from '../../src/node/log.js';
import { postTask } from '../support/market.js';
import { fundedCustomer, testMarkets } from '../support/market-harness.js';
import { backendKiller, PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';
import { writesDuring } from '../support/socket-writes.js';
import { capabilitiesFrame } from '../support/raw-provider.js';
import type { Socket } from 'node:net';

/**
 * Wake-ups across market instances: what one instance commits (a task posted, jobs requeued,
 * receipts stored) is notified in the same transaction, and every instance sharing the store hears
 * it once it commits (LISTEN/NOTIFY), instead of at its next sweep.
 */
const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const markets = testMarkets();
const own = markets.own;

/** Records every notification `store` hears on `channels`, in arrival order, and resolves waits on them. */
async function recorder(store: MarketStore, channels: readonly MarketChannel[]) {
  const heard: { channel: MarketChannel; n: StoreNotification }[] = [];
  const waiters = new Set<() => void>();
  for (const channel of channels) {
    const off = await store.listen(channel, (n) => {
      heard.push({ channel, n });
      for (const w of [...waiters]) w();
    });
    markets.defer(off);
  }
  /** Resolves once `channel` has been heard (fails after 20 s, naming what was heard). */
  const next = (channel: MarketChannel): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (!heard.some((h) => h.channel === channel)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${channel} notification within 20 s; heard: ${heard.map((h) => h.channel).join(', ')}`));
      }, 20_000);
      waiters.add(check);
      check();
    });
  return { heard, next };
}

/**
 * A notify in a transaction that rolls back is never delivered. Proven without waiting for nothing:
 * the rolled-back transaction notifies `jobs_ready`, a later committed one `result_settled`; a
 * listener gets notifications in commit order, so once `result_settled` is in, a `jobs_ready`
 * that had been sent would be in too.
 */
async function rolledBackWakesNobody(sender: MarketStore, listener: MarketStore): Promise<void> {
  const r = await recorder(listener, ['jobs_ready', 'result_settled']);
  await expect(
    sender.transaction(async (tx) => {
      await tx.notify('jobs_ready');
      throw new Error('roll back');
    }),
  ).rejects.toThrow('roll back');
  await sender.transaction((tx) => tx.notify('result_settled'));
  await r.next('result_settled');
  expect(r.heard.map((h) => h.channel)).toEqual(['result_settled']);
  expect(r.heard[0]?.n.origin).toBe(sender.origin);
}

describe('store notifications (pglite)', () => {
  it('a committed notify is heard in this process with its origin; a rolled-back one is not', async () => {
    const driver = await openPgliteDriver(undefined);
    const store = own(await MarketStore.open(driver));
    await rolledBackWakesNobody(store, store);
    // A driver that cannot listen (here: the same one without its notifications): the store tells
    // this process's listeners itself, once the transaction has committed.
    const plain = await MarketStore.open({ ...driver, notifications: undefined });
    await rolledBackWakesNobody(plain, plain);
  }, 60_000);
});

describe('wake-ups across instances (postgres)', () => {
  if (!url || !pgh) {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres:///postgres?host=/var/run/postgresql) to run market instances on one database`, () =>
      undefined);
    return;
  }
  const h = pgh;
  const kill = backendKiller(url);
  const openStore = async (schema: string) => own(await MarketStore.open(await h.open(schema)));

  /** A market instance on `schema` with no timers: only a notification (or its own commits) can wake its dispatcher. */
  const instance = (schema: string, config: Partial<ValidatorConfig> = {}) =>
    markets.open({
      store: () => h.open(schema),
      // sweepMs 0: no sweep timer (and no completion sweep); receiptDeliveryMs 0: no delivery timer.
      config: { receiptDeliveryMs: 0, ...config },
      marketId: 'wakeup-market',
      validator: { logger: silentLogger },
    });

  /** A one-job task (one small inference slice). */
  const oneJobTask = {
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt: 'p', max_tokens: 1 },
    reward: '1.0',
  } as const;

  /** Two instances on one fresh schema (both with `config`), and a customer funded through A who posts through A. */
  const pairOnOneSchema = async (config: Partial<ValidatorConfig> = {}) => {
    const schema = await h.newLocation();
    const a = await instance(schema, config);
    const b = await instance(schema, config);
    const alice = await fundedCustomer(a.server);
    const postThroughA = (body: unknown) => postTask({ base: a.base, ...alice }, body);
    return { schema, a, b, postThroughA };
  };

  /** Two instances on one fresh schema, a funded customer, and a provider joined to the second. */
  const twoInstances = async () => {
    const { schema, a, b, postThroughA } = await pairOnOneSchema();
    const provider = await markets.join(b, 19);
    // B's join kicked its dispatcher; once that pass is over, nothing on B runs until it is woken.
    await b.validator.whenIdle();
    const post = async () => {
      const res = await postThroughA({
        challenge_type: 'synthetic',
        payload: { matrix_size: 4, iterations: 1 },
        reward: '1.0',
      });
      expect(res.status).toBe(201);
      return res.json.task_id as string;
    };
    return { schema, a, b, provider, post };
  };

  it('a task posted through instance A is leased to a provider connected to B, with no sweep timer on B', async () => {
    const { a, b, provider, post } = await twoInstances();
    expect(a.validator.notifier.listening && b.validator.notifier.listening).toBe(true);
    const taskId = await post();
    const job = await provider.nextJob();
    expect(job.task_id).toBe(taskId);
  }, 60_000);

  /** Posts a task through A once B has heard nothing yet, and checks that B's hearing it ran no pass. */
  const noPassOnRemoteJobs = async (b: Awaited<ReturnType<typeof twoInstances>>['b'], post: () => Promise<string>) => {
    const passes = vi.spyOn(b.validator, 'pumpNow');
    const heard = new Promise<void>((resolve) =>
      b.validator.notifier.on('jobs_ready', (e) => (e.local ? undefined : resolve())),
    );
    await post();
    await heard;
    // A kick runs its pass on the next turn; after that turn and the step queue, B has run none.
    await new Promise((r) => setImmediate(r));
    await b.validator.whenIdle();
    expect(passes).not.toHaveBeenCalled();
  };

  it("an instance whose providers are all busy runs no pass on another instance's jobs_ready", async () => {
    const { b, provider, post } = await twoInstances();
    // B's only provider (max_jobs 1) takes the first task: B has no room left.
    await post();
    await provider.nextJob();
    await b.validator.whenIdle();
    await noPassOnRemoteJobs(b, post);
  }, 60_000);

  it("an instance whose last pass filled its providers runs no pass on another instance's jobs_ready, though one has room again", async () => {
    const { b, provider, post } = await twoInstances();
    await post();
    await provider.nextJob();
    await b.validator.whenIdle();
    // B's last pass filled its provider. Room that opens after such a pass (a result settling, a job
    // lost) comes with B's own wake-up, which reads the whole queue: so even with room here now,
    // another instance's jobs do not wake B.
    const room = vi.spyOn(Dispatcher.prototype, 'hasRoom').mockReturnValue(true);
    try {
      await noPassOnRemoteJobs(b, post);
    } finally {
      room.mockRestore();
    }
  }, 60_000);

  it('receipts that instance A stores for a provider connected to B reach it with no delivery timer on B', async () => {
    // A two-job task: one job to a provider on A, one to a provider on B. B's result settles first;
    // A's then completes the task, so A pays it and stores the receipt of B's provider.
    const payload = { model_id: 'm', prompt: 'two jobs, two instances', max_tokens: 1 };
    const sliceBytes = Math.ceil(payloadInputBytes(payload).length / 2);
    const { a, b, postThroughA } = await pairOnOneSchema({ sliceBytes });
    const onA = await markets.join(a, 31);
    const onB = await markets.join(b, 32);
    await b.validator.whenIdle();
    const res = await postThroughA({ challenge_type: 'inference', payload, reward: '1.0' });
    expect(res.status).toBe(201);
    const [jobA, jobB] = await Promise.all([onA.nextJob(), onB.nextJob()]);
    onB.sendJson(onB.honestResult(jobB, b.blake3, 1n));
    expect((await onB.ackFor(jobB.job_id)).accepted).toBe(true);
    onA.sendJson(onA.honestResult(jobA, a.blake3, 1n));
    expect((await onA.ackFor(jobA.job_id)).accepted).toBe(true);
    const receipt = await onB.nextFrame('receipt');
    expect(receipt.receipt.job_id).toBe(jobB.job_id);
  }, 60_000);

  it('receipts an instance stores only for its own providers wake no other instance', async () => {
    const { a, b, postThroughA } = await pairOnOneSchema();
    const onA = await markets.join(a, 41);
    const heard: string[] = [];
    for (const channel of ['receipt_stored', 'jobs_ready'] as const)
      b.validator.notifier.on(channel, (e) => (e.local ? undefined : heard.push(channel)));
    const post = () => postThroughA(oneJobTask);
    expect((await post()).status).toBe(201);
    const job = await onA.nextJob();
    onA.sendJson(onA.honestResult(job, a.blake3, 1n));
    expect((await onA.ackFor(job.job_id)).accepted).toBe(true);
    expect((await onA.nextFrame('receipt')).receipt.job_id).toBe(job.job_id);
    // A later commit of A's (a split that leaves a job queued: A's one provider takes one of the two
    // tasks) reaches B after anything A sent before it.
    const after = heard.length;
    const next = new Promise<void>((resolve) =>
      b.validator.notifier.on('jobs_ready', (e) => (e.local ? undefined : resolve())),
    );
    expect((await post()).status).toBe(201);
    expect((await post()).status).toBe(201);
    await next;
    expect(heard.slice(0, after + 1)).not.toContain('receipt_stored');
  }, 60_000);

  it("jobs that the splitting instance's own providers take at once wake no other instance", async () => {
    const { a, b, postThroughA } = await pairOnOneSchema();
    const onA = await markets.join(a, 51);
    await a.validator.whenIdle();
    const heard: string[] = [];
    for (const channel of ['jobs_ready', 'result_settled'] as const)
      b.validator.notifier.on(channel, (e) => (e.local ? undefined : heard.push(channel)));
    const settled = new Promise<void>((resolve) =>
      b.validator.notifier.on('result_settled', (e) => (e.local ? undefined : resolve())),
    );
    const res = await postThroughA(oneJobTask);
    expect(res.status).toBe(201);
    const job = await onA.nextJob();
    onA.sendJson(onA.honestResult(job, a.blake3, 1n));
    expect((await onA.ackFor(job.job_id)).accepted).toBe(true);
    // The settlement's notification comes after the split's in commit order: had the split
    // notified, B would have heard it first.
    await settled;
    expect(heard).toEqual(['result_settled']);
  }, 60_000);

  it("a pass's split sends the jobs, the tasks' new status and its read of the queue in one round trip, the tasks' rows having come with the pass's first read", async () => {
    const schema = await h.newLocation();
    const a = await instance(schema, { presenceMs: 0 });
    const alice = await fundedCustomer(a.server);
    // The socket writes made inside each split of a pass (whichever pass splits the task).
    const proto = Dispatcher.prototype as unknown as { splitPending(...args: unknown[]): Promise<unknown> };
    const real = proto.splitPending;
    const splits: { writes: number; result: unknown }[] = [];
    const spy = vi.spyOn(proto, 'splitPending').mockImplementation(async function (this: unknown, ...args) {
      const { result, writes } = await writesDuring(() => real.apply(this, args));
      if ((args[1] as readonly unknown[]).length > 0) splits.push({ writes, result });
      return result;
    });
    try {
      const res = await postTask({ base: a.base, ...alice }, oneJobTask);
      expect(res.status).toBe(201);
      await a.validator.whenIdle();
      // One write: the jobs, inputs, new status and the queue's shape (the tasks' rows were read with the pass's view).
      expect(splits.map((x) => x.writes)).toEqual([1]);
      expect(splits[0]?.result).toMatchObject({ shape: [{ lane: 'consumer', count: 1 }] });
      const task = await a.store.transaction((tx) => tx.tasks.get(res.json.task_id as string));
      expect(task?.status).toBe('in_progress');
    } finally {
      spy.mockRestore();
    }
  }, 60_000);

  it('a pass that splits a task for a provider with room for its jobs locks them with the split: four round trips', async () => {
    const payload = { model_id: 'm', prompt: 'two jobs, one provider', max_tokens: 1 };
    const sliceBytes = Math.ceil(payloadInputBytes(payload).length / 2);
    const schema = await h.newLocation();
    const a = await instance(schema, { presenceMs: 0, sliceBytes });
    const alice = await fundedCustomer(a.server);
    const provider = await markets.join(a, 71, capabilitiesFrame({ max_jobs: 2 }));
    await a.validator.whenIdle();
    // The writes to the store inside each pass (not the job frames to the provider's socket).
    const marketPort = Number(new URL(a.base).port);
    const toStore = (socket: Socket) => socket.remotePort !== marketPort && socket.localPort !== marketPort;
    const proto = Dispatcher.prototype as unknown as { pumpNow(...args: unknown[]): Promise<unknown> };
    const real = proto.pumpNow;
    const passes: number[] = [];
    const spy = vi.spyOn(proto, 'pumpNow').mockImplementation(async function (this: unknown, ...args) {
      const { result, writes } = await writesDuring(() => real.apply(this, args), toStore);
      passes.push(writes);
      return result;
    });
    try {
      const res = await postTask({ base: a.base, ...alice }, { challenge_type: 'inference', payload, reward: '1.0' });
      expect(res.status).toBe(201);
      const jobs = [await provider.nextJob(), await provider.nextJob(1)];
      expect(new Set(jobs.map((j) => j.task_id))).toEqual(new Set([res.json.task_id]));
      await a.validator.whenIdle();
      // BEGIN with the tasks to split and the queue's view; the split with the shape and the jobs'
      // lock; the leases; the assignments with COMMIT.
      expect(passes).toEqual([4]);
    } finally {
      spy.mockRestore();
    }
  }, 60_000);

  it("a settlement that completes its task sends its writes with the payout's first read and takes the escrow with the bonds' read: six round trips", async () => {
    const schema = await h.newLocation();
    const a = await instance(schema, { presenceMs: 0 });
    const alice = await fundedCustomer(a.server);
    const provider = await markets.join(a, 61);
    await a.validator.whenIdle();
    // The socket writes made inside each settlement group (ResultSettler.flushNow).
    const settler = ResultSettler.prototype as unknown as { flushNow(...args: unknown[]): Promise<unknown> };
    const real = settler.flushNow;
    const groups: number[] = [];
    const spy = vi.spyOn(settler, 'flushNow').mockImplementation(async function (this: unknown, ...args) {
      const { result, writes } = await writesDuring(() => real.apply(this, args));
      groups.push(writes);
      return result;
    });
    try {
      const res = await postTask({ base: a.base, ...alice }, oneJobTask);
      expect(res.status).toBe(201);
      const job = await provider.nextJob();
      provider.sendJson(provider.honestResult(job, a.blake3, 1n));
      expect((await provider.ackFor(job.job_id)).accepted).toBe(true);
      expect((await provider.nextFrame('receipt')).receipt.job_id).toBe(job.job_id);
      // BEGIN and the group's locked read; the nonces claimed; the jobs finished and the results
      // stored, with the completion check and the tasks' results; the escrows taken, with the
      // bonds' balances; the accounts, receipts and postings; COMMIT.
      expect(groups).toEqual([6]);
      const task = await a.store.transaction((tx) => tx.tasks.get(res.json.task_id as string));
      expect(task?.status).toBe('completed');
    } finally {
      spy.mockRestore();
    }
  }, 60_000);

  it('a notify inside a rolled-back transaction wakes no other instance', async () => {
    const schema = await h.newLocation();
    await rolledBackWakesNobody(await openStore(schema), await openStore(schema));
  }, 60_000);

  it('a market in another schema of the same database hears none of this one', async () => {
    const schema = await h.newLocation();
    const here = await openStore(schema);
    const other = await openStore(await h.newLocation());
    const r = await recorder(other, ['jobs_ready', 'result_settled']);
    // Commit order: this market's jobs_ready, then the other market's own result_settled.
    await here.transaction((tx) => tx.notify('jobs_ready'));
    await other.transaction((tx) => tx.notify('result_settled'));
    await r.next('result_settled');
    expect(r.heard.map((x) => x.channel)).toEqual(['result_settled']);
  }, 60_000);

  it('the listening connection re-subscribes after it is killed, and wakes B again', async () => {
    const { b, provider, post } = await twoInstances();
    const before = b.store.listenerPid;
    expect(before).toBeTypeOf('number');
    const resubscribed = new Promise<void>((resolve) => {
      const off = b.store.onDidResubscribe(() => {
        off();
        resolve();
      });
    });
    await kill(before as number);
    await resubscribed;
    expect(b.store.listenerPid).toBeTypeOf('number');
    expect(b.store.listenerPid).not.toBe(before);
    // The resubscription woke B once (a pass with nothing queued); a task posted now reaches B's provider.
    await b.validator.whenIdle();
    const taskId = await post();
    expect((await provider.nextJob()).task_id).toBe(taskId);
  }, 60_000);
});
