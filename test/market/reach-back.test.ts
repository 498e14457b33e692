import { afterEach, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/core/hex.js';
import { createSliceDigester, deriveAssignmentKey } from '../../src/core/market/assignment-proof.js';
import { taskResultHash } from '../../src/core/market/merkle.js';
import { createTaskBody } from '../../src/market/http/task-schemas.js';
import { payloadInputBytes } from '../../src/market/services/task-service.js';
import { ACCOUNTS } from '../../src/market/store/accounts-repo.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import type { TaskRecord } from '../../src/market/store/tasks-repo.js';
import type { ValidatorConfig } from '../../src/market/validator/validator-config.js';
import type { JobFrame, MarketFrame } from '../../src/shared/market-protocol.js';
import { expectBooksEqual } from '../support/books.js';
import { balance, getTask, postTask } from '../support/market.js';
import { fundedCustomer, testMarkets, type FundedCustomer, type MarketInstance } from '../support/market-harness.js';
import type { RawProvider } from '../support/raw-provider.js';
import { tempDir } from '../support/temp-dir.js';
import { storeHarnesses, type StoreHarness } from './store-harness.js';

/**
 * A failed check reaches back (docs/market-api.md, "Reach-back"), and a customer sees how its
 * result was checked ("Verification"). Runs on the embedded store and, when TESSERA_TEST_PG_URL is
 * set, on a PostgreSQL server.
 */
const SEED = 0x4eac4;
console.log(`reach-back test seed ${SEED}`);
const SECRET = SEED.toString(16).padStart(8, '0').repeat(8);
let nonce = BigInt(SEED) * 1_000_000n;
/** The market's and the providers' clock; a test moves it forward to let a closed provider's leases lapse. */
let skew = 0;
const clock = { now: () => Date.now() + skew };

const harnesses = storeHarnesses(() => tempDir('tessera-reach-'));
const markets = testMarkets();
afterEach(() => {
  skew = 0;
});
type M = MarketInstance & FundedCustomer;

/** A driver whose reach-back settle statement throws while `crash.on` (a market stopping in the middle of a pass). */
function crashing(d: SqlDriver, crash: { on: boolean }): SqlDriver {
  return {
    kind: d.kind,
    location: d.location,
    transaction: (fn) =>
      d.transaction((conn) =>
        fn({
          query(q) {
            if (crash.on && q.strings.join('?').includes('UPDATE reach_back_checks SET state'))
              throw new Error('the market stopped here (simulated)');
            return conn.query(q);
          },
          exec: (text) => conn.exec(text),
        }),
      ),
    close: () => d.close(),
  };
}

/** A market on `location` with the market's defaults unless `config` says otherwise (timers off: the test drives the passes). */
async function market(
  h: StoreHarness,
  location: string,
  config: Partial<ValidatorConfig> = {},
  o: { crash?: { on: boolean }; customer?: FundedCustomer } = {},
): Promise<M> {
  const m = await markets.open({
    store: async () => (o.crash ? crashing(await h.open(location), o.crash) : h.open(location)),
    clock,
    config: { bondTarget: 0n, ...config },
    marketId: 'reach-market',
    validator: { secretHex: SECRET },
  });
  return { ...m, ...(o.customer ?? (await fundedCustomer(m.server))) };
}

async function restart(
  m: M,
  h: StoreHarness,
  location: string,
  config: Partial<ValidatorConfig>,
  o: { crash?: { on: boolean } } = {},
) {
  markets.closeProviders();
  await m.close();
  return market(h, location, config, { ...o, customer: { customer: m.customer, customerKey: m.customerKey } });
}

const inference = (tag: string, verification?: string) =>
  createTaskBody.parse({
    challenge_type: 'inference',
    payload: { model_id: 'm', prompt: tag, max_tokens: 1 },
    reward: '1.0',
    ...(verification ? { verification } : {}),
  });

const acks = (p: RawProvider) =>
  p.frames.filter((f): f is Extract<MarketFrame, { type: 'result_ack' }> => f.type === 'result_ack');

/** Garbage: a made-up result hash for the job (signed, fresh nonce). */
function cheat(p: RawProvider, m: M, job: JobFrame): void {
  p.sendResult(p.resultJson(job, m.blake3, nonce++, { result_hash: 'ee'.repeat(32) }), job.epoch);
}

/** Answers every job `p` gets with garbage, as it arrives (a job it gets back to redo too). */
function cheatAlways(p: RawProvider, m: M): void {
  let answered = 0;
  const answer = () => {
    for (const job of p.jobs().slice(answered)) {
      answered++;
      cheat(p, m, job);
    }
  };
  p.ws.on('message', () => setImmediate(answer));
}

/** Answers every job `p` gets with the honest result, as it arrives. */
function answerHonestly(p: RawProvider, m: M): void {
  let answered = 0;
  const answer = () => {
    for (const job of p.jobs().slice(answered)) {
      answered++;
      p.sendJson(p.honestResult(job, m.blake3, nonce++));
    }
  };
  p.ws.on('message', () => setImmediate(answer));
  answer();
}

const join = (m: M, seed: number, maxJobs = 1) => markets.join(m, seed, { max_jobs: maxJobs }, clock);

/**
 * Every task is completed and its result_hash is the one honest work gives: recomputed here from
 * the task's input and the assignment key of the provider its job was settled on (derived from the
 * market secret), so a wrong hash cannot pass. Returns the tasks' settled workers.
 */
async function expectAllCorrect(m: M, taskIds: readonly string[], cheater: string): Promise<void> {
  for (const taskId of taskIds) {
    const { task, rows } = await m.store.transaction(async (tx) => ({
      task: await tx.tasks.get(taskId),
      rows: (await tx.settlement.taskResults([taskId])).get(taskId) ?? [],
    }));
    expect(task?.status, `task ${taskId}`).toBe('completed');
    expect(rows).toHaveLength(1);
    const slice = rows[0] as (typeof rows)[number];
    // Settled on an honest provider's result, or (a redo found wrong by a check) on the validator's own digests.
    if (slice.verdict === 'accepted') expect(slice.workerAddress).not.toBe(cheater);
    const key = deriveAssignmentKey(fromHex(SECRET), slice.jobId, slice.workerAddress, 0, m.blake3);
    const d = createSliceDigester(key, m.blake3);
    d.update(payloadInputBytes((task as TaskRecord).payload));
    const honest = d.digest().resultHash;
    expect(slice.settledHash).toBe(honest);
    expect(task?.resultHash, `result_hash of task ${taskId}`).toBe(taskResultHash([honest], m.blake3));
  }
}

for (const h of harnesses) {
  describe(`reach-back (${h.name})`, () => {
    it('a provider that cheats from its first job (market defaults): its first detected failure reaches back; no task stays completed on a wrong result; the books conserve', async () => {
      const m = await market(h, await h.newLocation());
      const c = await join(m, SEED + 1);
      cheatAlways(c, m);
      const tasks: string[] = [];
      let firstFailure = -1;
      // Tasks one at a time, every job the cheater gets (a redo handed back to it too) answered with garbage, until it is refused.
      for (let i = 0; i < 300 && c.closeCode === undefined; i++) {
        const before = c.jobs().length;
        tasks.push((await m.server.tasks.create(m.customer, inference(`cheat-${SEED}-${i}`))).taskId);
        m.validator.kick();
        await c.waitFor('every job answered, or the close', () =>
          c.closeCode !== undefined || (c.jobs().length > before && acks(c).length === c.jobs().length)
            ? true
            : undefined,
        );
        // Passes the failure scheduled (and the dispatch after them) run; this one runs after them on the same queue.
        await m.validator.whenIdle();
        await m.validator.reachBackNow();
        if (firstFailure === -1 && acks(c).some((a) => a.code === 'WRONG_RESULT')) {
          firstFailure = i;
          // Every result it had accepted before its first detected failure is now re-verified and marked wrong.
          const earlier = await m.store.transaction(async (tx) => {
            const out = [];
            for (const t of tasks.slice(0, i))
              for (const j of await tx.jobs.byTask(t)) out.push(...(await tx.validator.results(j.jobId)));
            return out.filter((r) => r.workerAddress === c.address);
          });
          expect(earlier.length).toBeGreaterThanOrEqual(i);
          expect(earlier.map((r) => r.verdict)).toEqual(earlier.map(() => 'wrong'));
        }
        if ((await m.store.transaction((tx) => tx.validator.provider(c.address)))?.refused) break;
      }
      console.log(`cheater first detected on task ${firstFailure + 1} of ${tasks.length}`);
      expect(firstFailure).toBeGreaterThanOrEqual(0);
      expect(await c.closed()).toBe(4003);
      await m.validator.whenIdle();
      // Clawed back: a cheater keeps nothing of what it was paid.
      expect(await balance(m, ACCOUNTS.worker(c.address))).toBe(0n);
      await expectBooksEqual(m);

      // A job still leased to the refused cheater lapses (silence past t2) and is queued again.
      skew += 10 * 60_000;
      await m.validator.sweepNow();
      const redo = (
        await m.store.transaction(async (tx) =>
          Promise.all(tasks.map(async (t) => (await tx.jobs.byTask(t)).filter((j) => j.status !== 'done').length)),
        )
      ).reduce((a, b) => a + b, 0);
      console.log(`${redo} jobs to redo`);
      // An honest provider redoes every job that was wrong.
      const honest = await join(m, SEED + 2, 4);
      answerHonestly(honest, m);
      await honest.waitFor(`${redo} acks`, () => (acks(honest).length >= redo ? true : undefined));
      await m.validator.whenIdle();
      const pass = await m.validator.reachBackNow();
      console.log(`reach-back completed ${pass.completed.length} corrected tasks`);
      await expectAllCorrect(m, tasks, c.address);
      // The customer sees each correction.
      const view = (await getTask(m, tasks[0] as string)) as { status: string; verification: Record<string, unknown> };
      expect(view.status).toBe('completed');
      expect(view.verification).toMatchObject({ unchecked: 0, level: 'all_checked' });
      // Nothing was charged twice: the customer paid each reward once.
      expect(await m.server.customers.balance(m.customer.customerId)).toBe(
        1_000_000_000n - BigInt(tasks.length) * 1_000_000n,
      );
      expect(await balance(m, ACCOUNTS.worker(c.address))).toBe(0n);
      await expectBooksEqual(m);
    }, 240_000);

    it('a refused provider is reached back over every result it returned unchecked, whatever its age; one not refused only over its window', async () => {
      // No sampled checks (a task asking for "all" is checked); the window holds one result before a failure; two wrong results refuse.
      const m = await market(h, await h.newLocation(), { checkFraction: 0, reachBackMax: 1, refuseAfter: 2 });
      const c = await join(m, SEED + 7);
      const run = async (i: number, tag: string, honest: boolean, verification?: string) => {
        const taskId = (await m.server.tasks.create(m.customer, inference(`${tag}-${SEED}`, verification))).taskId;
        m.validator.kick();
        const job = await c.nextJob(i);
        if (honest) c.sendJson(c.honestResult(job, m.blake3, nonce++));
        else cheat(c, m, job);
        return { taskId, jobId: job.job_id, ack: await c.ackFor(job.job_id) };
      };
      const status = (taskId: string) => m.store.transaction(async (tx) => (await tx.tasks.get(taskId))?.status);
      const checks = (taskId: string) =>
        m.store.transaction(async (tx) => (await tx.reachBack.verification([taskId])).get(taskId));
      // An old wrong result, then a right one, both accepted without a check: their tasks complete and pay.
      const old = await run(0, 'old-wrong', false);
      const right = await run(1, 'right', true);
      expect([old.ack.accepted, right.ack.accepted]).toEqual([true, true]);
      // First failed check: not refused, so only the newest unchecked result before it is re-verified (right).
      expect((await run(2, 'caught-1', false, 'all')).ack.code).toBe('WRONG_RESULT');
      await m.validator.whenIdle();
      await m.validator.reachBackNow();
      expect(await checks(right.taskId)).toMatchObject({ reexecuted: 1, unchecked: 0 });
      expect(await checks(old.taskId)).toMatchObject({ unchecked: 1, corrected: 0 });
      expect(await status(old.taskId)).toBe('completed');
      expect(await m.store.transaction((tx) => tx.reachBack.pending(10))).toEqual([]);
      // Second failed check: refused, and now every result it returned unchecked is re-verified, however far back.
      expect((await run(3, 'caught-2', false, 'all')).ack.code).toBe('WRONG_RESULT');
      expect(await c.closed()).toBe(4003);
      await m.validator.whenIdle();
      await m.validator.reachBackNow();
      expect(await status(old.taskId)).toBe('reopened');
      expect((await m.store.transaction((tx) => tx.validator.results(old.jobId))).map((r) => r.verdict)).toEqual([
        'wrong',
      ]);
      // Its pay for the wrong result is clawed back; the pay for the right one stays (0.25 CPC per one-job task).
      expect(await balance(m, ACCOUNTS.worker(c.address))).toBe(250_000n);
      const honest = await join(m, SEED + 8, 4);
      answerHonestly(honest, m);
      await honest.waitFor('the redo acked', () => (acks(honest).length >= 1 ? true : undefined));
      await m.validator.whenIdle();
      await m.validator.reachBackNow();
      await expectAllCorrect(m, [old.taskId], c.address);
      expect(await checks(old.taskId)).toMatchObject({ corrected: 1, unchecked: 0 });
      await expectBooksEqual(m);
    }, 120_000);

    it('a failed check re-verifies the newest unchecked results before it however old they are (reachBackMs bounds only what comes after)', async () => {
      const m = await market(h, await h.newLocation(), { checkFraction: 0, reachBackMs: 60_000 });
      const c = await join(m, SEED + 9);
      const old = (await m.server.tasks.create(m.customer, inference(`aged-${SEED}`))).taskId;
      m.validator.kick();
      const first = await c.nextJob(0);
      cheat(c, m, first);
      expect((await c.ackFor(first.job_id)).accepted).toBe(true);
      // Twice the window later, a task asking for "all" catches the provider.
      skew += 120_000;
      await m.server.tasks.create(m.customer, inference(`aged-caught-${SEED}`, 'all'));
      m.validator.kick();
      const second = await c.nextJob(1);
      cheat(c, m, second);
      expect((await c.ackFor(second.job_id)).code).toBe('WRONG_RESULT');
      await m.validator.whenIdle();
      await m.validator.reachBackNow();
      expect(await m.store.transaction(async (tx) => (await tx.tasks.get(old))?.status)).toBe('reopened');
      expect(await balance(m, ACCOUNTS.worker(c.address))).toBe(0n);
      await expectBooksEqual(m);
    }, 120_000);

    it('a restart in the middle of a reach-back loses nothing: the queued re-verifications survive and finish after it', async () => {
      const location = await h.newLocation();
      // No checks: three garbage results are accepted and their tasks complete and pay.
      let m = await market(h, location, { checkFraction: 0 });
      let c = await join(m, SEED + 3);
      const tasks: string[] = [];
      for (let i = 0; i < 3; i++) {
        tasks.push((await m.server.tasks.create(m.customer, inference(`restart-${SEED}-${i}`))).taskId);
        m.validator.kick();
        const job = await c.nextJob(i);
        cheat(c, m, job);
        expect((await c.ackFor(job.job_id)).accepted).toBe(true);
      }
      await m.validator.whenIdle();
      expect(await balance(m, ACCOUNTS.worker(c.address))).toBeGreaterThan(0n);
      // Every job checked now; the reach-back's settle step fails as a stopping market would.
      const crash = { on: true };
      m = await restart(m, h, location, { checkFraction: 1 }, { crash });
      c = await join(m, SEED + 3);
      tasks.push((await m.server.tasks.create(m.customer, inference(`restart-${SEED}-3`))).taskId);
      m.validator.kick();
      const job = await c.nextJob(0);
      cheat(c, m, job);
      expect((await c.ackFor(job.job_id)).code).toBe('WRONG_RESULT');
      await expect(m.validator.reachBackNow()).rejects.toThrow('simulated');
      await m.validator.whenIdle();
      const queued = await m.store.transaction((tx) => tx.reachBack.pending(100));
      expect(queued.map((q) => q.taskId).sort()).toEqual(tasks.slice(0, 3).sort());
      expect(await m.store.transaction(async (tx) => (await tx.tasks.get(tasks[0] as string))?.status)).toBe(
        'completed',
      );

      crash.on = false;
      m = await restart(m, h, location, { checkFraction: 1 });
      const pass = await m.validator.reachBackNow();
      expect(pass).toMatchObject({ wrong: 3, confirmed: 0 });
      expect(pass.reopened.sort()).toEqual(tasks.slice(0, 3).sort());
      expect(await balance(m, ACCOUNTS.worker(c.address))).toBe(0n);
      const honest = await join(m, SEED + 4, 4);
      answerHonestly(honest, m);
      await honest.waitFor('3 acks', () => (acks(honest).length >= 3 ? true : undefined));
      await m.validator.whenIdle();
      // A settled redo wakes a pass when reach-back work is open; this one runs after it.
      await m.validator.reachBackNow();
      await expectAllCorrect(m, tasks, c.address);
      // The redo was paid what the cheater had been (0.25 CPC per one-job task), once each.
      expect(await balance(m, ACCOUNTS.worker(honest.address))).toBe(3n * 250_000n);
      await expectBooksEqual(m);
    }, 240_000);
  });

  describe(`verification a customer asks for (${h.name})`, () => {
    it('GET /tasks/{id} shows how each result was checked; "all" and "two_providers" are charged exactly their price rule', async () => {
      const m = await market(h, await h.newLocation(), { checkFraction: 0 });
      const before = await m.server.customers.balance(m.customer.customerId);
      const p1 = await join(m, SEED + 5, 4);
      const p2 = await join(m, SEED + 6, 4);
      answerHonestly(p1, m);
      answerHonestly(p2, m);
      const ids: Record<string, string> = {};
      for (const v of ['sampled', 'all', 'two_providers']) {
        const r = await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: `v-${v}`, max_tokens: 1 },
          reward: '1.0',
          verification: v,
        });
        expect(r.status).toBe(201);
        ids[v] = r.json.task_id as string;
      }
      // Held at POST: 1.0, 1.1 (10% for the re-execution), 1.25 (the provider share again).
      expect(before - (await m.server.customers.balance(m.customer.customerId))).toBe(3_350_000n);
      m.validator.kick();
      // Four runs (the pair's two): the last ack lands on either provider, so both are watched.
      const fourAcks = () => (acks(p1).length + acks(p2).length >= 4 ? true : undefined);
      await Promise.race(
        [p1.waitFor('4 acks', fourAcks), p2.waitFor('4 acks', fourAcks)].map((w) => w.catch(() => false)),
      );
      expect(fourAcks()).toBe(true);
      await m.validator.whenIdle();
      const view = async (id: string) =>
        (await getTask(m, id)) as { status: string; verification: Record<string, unknown> };
      const common = { jobs: 1, corrected: 0, corrections: 0 };
      expect(await view(ids.sampled as string)).toMatchObject({
        status: 'completed',
        verification: {
          ...common,
          requested: 'sampled',
          surcharge: '0.0',
          level: 'unchecked',
          unchecked: 1,
          reexecuted: 0,
          agreed: 0,
        },
      });
      expect(await view(ids.all as string)).toMatchObject({
        status: 'completed',
        verification: {
          ...common,
          requested: 'all',
          surcharge: '0.1',
          level: 'all_checked',
          reexecuted: 1,
          unchecked: 0,
        },
      });
      expect(await view(ids.two_providers as string)).toMatchObject({
        status: 'completed',
        verification: {
          ...common,
          requested: 'two_providers',
          surcharge: '0.25',
          level: 'all_checked',
          agreed: 1,
          unchecked: 0,
        },
      });
      // The list carries the same.
      const list = (await fetch(`${m.base}/tasks`, { headers: { authorization: `Bearer ${m.customerKey}` } }).then(
        (r) => r.json(),
      )) as { tasks: { task_id: string; verification: { level: string } }[] };
      expect(Object.fromEntries(list.tasks.map((t) => [t.task_id, t.verification.level]))).toEqual({
        [ids.sampled as string]: 'unchecked',
        [ids.all as string]: 'all_checked',
        [ids.two_providers as string]: 'all_checked',
      });
      // Paid exactly: 60/25/10/5 of each reward, the "all" surcharge to the validator, the pair's runs 0.25 each.
      expect(await balance(m, ACCOUNTS.validator)).toBe(3n * 100_000n + 100_000n);
      expect(await balance(m, ACCOUNTS.burn)).toBe(3n * 600_000n);
      expect(await balance(m, ACCOUNTS.treasury)).toBe(3n * 50_000n);
      expect((await balance(m, ACCOUNTS.worker(p1.address))) + (await balance(m, ACCOUNTS.worker(p2.address)))).toBe(
        4n * 250_000n,
      );
      await expectBooksEqual(m);
    }, 120_000);

    it('a bad "verification" value is refused with 400 INVALID_FIELD naming it, and nothing is charged', async () => {
      const m = await market(h, await h.newLocation());
      const before = await m.server.customers.balance(m.customer.customerId);
      for (const bad of ['paranoid', 3, null, 'ALL']) {
        const r = await postTask(m, {
          challenge_type: 'inference',
          payload: { model_id: 'm', prompt: 'x', max_tokens: 1 },
          reward: '1.0',
          verification: bad,
        });
        expect(r.status).toBe(400);
        expect(r.json.error).toMatchObject({ code: 'INVALID_FIELD', field: 'verification' });
        expect((r.json.error as { message: string }).message).toMatch(
          /^verification: must be "sampled", "all" or "two_providers"/,
        );
      }
      expect(await m.server.customers.balance(m.customer.customerId)).toBe(before);
    });
  });
}
