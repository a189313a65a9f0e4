import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NotFoundError, TooManyRequestsError } from '../../functions/lib/errors.ts';
import type { Store } from '../../functions/lib/store/types.ts';
import { rulesContract } from './contract-feedback.ts';
import { newJob, plan, plannedJob, result, usage } from './fixtures.ts';

export { newJob, plan, plannedJob, result, usage } from './fixtures.ts';

/** How the contract reaches one kind of store. */
export interface StoreHarness {
  /** A store on the same database every call, not yet initialised. */
  open(): Promise<Store>;
  /**
   * Whether two stores may be open on the database at once, on separate connections (Postgres,
   * Supabase). PGlite serves one process and one connection: races then run on one store.
   */
  concurrent: boolean;
}

/**
 * The Store contract: every store (PGlite, Postgres, Supabase) must pass all of it.
 * @example storeContract('SqlStore on PGlite', { open: async () => new SqlStore(pgliteDriver(dir)), concurrent: false })
 */
export function storeContract(name: string, h: StoreHarness): void {
  describe(`${name}: the Store contract`, () => {
    let store: Store;
    let other: Store;
    before(async () => {
      store = await h.open();
      await store.init();
      other = h.concurrent ? await h.open() : store;
      if (other !== store) await other.init();
    });
    after(async () => {
      if (other !== store) await other?.close();
      await store?.close();
    });

    it('creates a job once and reads it back', async () => {
      const job = newJob();
      await store.createJob(job);
      await store.createJob({ ...job, owner: 'someone-else' });
      const got = await store.getJob(job.id);
      assert.ok(got);
      assert.equal(got.status, 'planning');
      assert.equal(got.owner, 'splitter-1');
      assert.deepEqual(got.messages, job.messages);
      assert.deepEqual(got.meta, job.meta);
      assert.equal(got.plan, null);
      assert.deepEqual(got.parts, []);
      assert.deepEqual(got.usage, usage(0, 0));
      assert.equal(got.completedAt, null);
      assert.equal(new Date(got.createdAt).toISOString(), got.createdAt);
      assert.equal(await store.getJob(randomUUID()), null);
    });

    it('records how a split answer is put together, what its tasks carry, and keeps the first opening written', async () => {
      const id = await plannedJob(store, 2);
      assert.equal((await store.getJob(id))!.synthesis, null);
      assert.equal((await store.getJob(id))!.opening, null);
      await store.setSynthesis(id, 'stitch', { total: 2, fastPath: false, synthesis: 'stitch', maxTokens: 64 });
      assert.equal(await store.setOpening(id, 'Two things follow.', usage(30, 7)), 'Two things follow.');
      // a second writer (another merger, or a synthesis that found none) gets the first one back
      assert.equal(await other.setOpening(id, '', usage(0, 0)), 'Two things follow.');
      const got = (await store.getJob(id))!;
      assert.equal(got.synthesis, 'stitch');
      assert.deepEqual(got.taskDefaults, { total: 2, fastPath: false, synthesis: 'stitch', maxTokens: 64 });
      assert.deepEqual(got.opening, { text: 'Two things follow.', usage: usage(30, 7) });
      assert.ok(got.usage.completionTokens >= 7, 'the opening counts in the job usage');
      await assert.rejects(store.setSynthesis(id, 'blend' as 'stitch', {}));
      await assert.rejects(store.setOpening(randomUUID(), 'x', usage(0, 0)), NotFoundError);
    });

    it('stores the plan once, with one pending part per entry', async () => {
      const id = await plannedJob(store, 3);
      await store.setPlan(id, plan(5), true, usage(100, 100));
      const got = await store.getJob(id);
      assert.equal(got?.status, 'running');
      assert.equal(got?.fastPath, false);
      assert.deepEqual(got?.plan, plan(3));
      assert.deepEqual(got?.parts.map((p) => [p.index, p.status, p.model, p.attempts]), [
        [0, 'pending', 'llama3-8b', 0], [1, 'pending', 'codellama-7b', 0], [2, 'pending', 'llama3-8b', 0],
      ]);
      assert.deepEqual(got?.usage, usage(5, 7));
      await assert.rejects(store.setPlan(randomUUID(), plan(1), true), NotFoundError);
    });

    it('counts attempts when a part starts', async () => {
      const id = await plannedJob(store, 2);
      assert.deepEqual(await store.startPart(id, 1), { attempt: 1, cancelled: false });
      assert.deepEqual(await store.startPart(id, 1), { attempt: 2, cancelled: false });
      const part = (await store.getJob(id))?.parts[1];
      assert.equal(part?.status, 'running');
      assert.ok(part?.startedAt);
      await assert.rejects(store.startPart(id, 7), NotFoundError);
      await assert.rejects(store.startPart(randomUUID(), 0), NotFoundError);
    });

    it('records a part once: the same part twice is one row and recorded:false', async () => {
      const id = await plannedJob(store, 2);
      assert.deepEqual(await store.recordPart(result(id, 0)), { recorded: true, complete: false });
      assert.deepEqual(await store.recordPart(result(id, 0, { output: 'a second answer' })), { recorded: false, complete: false });
      const job = await store.getJob(id);
      assert.equal(job?.parts.length, 2);
      assert.equal(job?.parts[0]?.output, 'answer 0');
      assert.equal(job?.parts[0]?.status, 'completed');
      assert.equal(job?.parts[0]?.durationMs, 1500);
      assert.equal(job?.parts[0]?.finishedAt, '2026-01-01T00:00:01.500Z');
      const last = await store.recordPart(result(id, 1, { status: 'failed', output: undefined, error: 'model down', attempts: 3 }));
      assert.deepEqual(last, { recorded: true, complete: true });
      const failed = (await store.getJob(id))?.parts[1];
      assert.deepEqual([failed?.status, failed?.error, failed?.output, failed?.attempts], ['failed', 'model down', null, 3]);
      assert.deepEqual(await store.recordPart(result(id, 1)), { recorded: false, complete: true });
      await assert.rejects(store.recordPart(result(id, 9)), NotFoundError);
      await assert.rejects(store.recordPart(result(randomUUID(), 0)), NotFoundError);
    });

    it('keeps the tool calls a part\'s model made with the part; a part without any has none', async () => {
      // GIVEN a part answered with two tool calls (OpenAI's shape: id, name, arguments as JSON text)
      const id = await plannedJob(store, 2);
      const toolCalls = [
        { id: 'call_1', name: 'get_weather', arguments: '{"city":"Zürich"}' },
        { id: 'call_2', name: 'get_time', arguments: '{}' },
      ];
      await store.recordPart(result(id, 0, { output: '', toolCalls }));
      await store.recordPart(result(id, 1));
      // WHEN the job is read back THEN the calls are there, in order, and the other part has none
      const job = await store.getJob(id);
      assert.deepEqual(job?.parts[0]?.toolCalls, toolCalls);
      assert.equal(job?.parts[0]?.output, '');
      assert.equal(job?.parts[1]?.toolCalls, null);
      assert.deepEqual((await store.listJobs(50)).find((j) => j.id === id)?.parts[0]?.toolCalls, toolCalls);
    });

    it('stores text with NUL characters, which Postgres cannot hold, as U+FFFD', async () => {
      const job = newJob({ messages: [{ role: 'user', content: 'a\u0000b' }] });
      await store.createJob(job);
      await store.setPlan(job.id, plan(1), true);
      await store.recordPart(result(job.id, 0, { output: 'x\u0000y' }));
      await store.addJobEvent(job.id, 'part.completed', { text: 'p\u0000q' });
      const got = await store.getJob(job.id);
      assert.equal(got?.messages[0]?.content, 'a\uFFFDb');
      assert.equal(got?.parts[0]?.output, 'x\uFFFDy');
      assert.deepEqual((await store.listJobEvents(job.id))[0]?.data, { text: 'p\uFFFDq' });
    });

    it('claims the synthesis once, busy while leased, done after completion; usage sums everything', async () => {
      const id = await plannedJob(store, 2);
      await store.recordPart(result(id, 0, { usage: usage(1, 2) }));
      await store.recordPart(result(id, 1, { usage: usage(3, 4) }));
      assert.ok((await store.jobsAwaitingSynthesis(60)).includes(id));
      assert.equal(await store.claimSynthesis(id, 'merger-a', 60), 'claimed');
      assert.equal((await store.getJob(id))?.status, 'merging');
      assert.equal(await store.claimSynthesis(id, 'merger-b', 60), 'busy');
      assert.equal(await store.claimSynthesis(id, 'merger-a', 60), 'busy');
      assert.ok(!(await store.jobsAwaitingSynthesis(60)).includes(id));
      await store.completeJob(id, 'the answer', usage(100, 200));
      await store.completeJob(id, 'another answer', usage(1000, 1000));
      const job = await store.getJob(id);
      assert.equal(job?.status, 'completed');
      assert.equal(job?.answer, 'the answer');
      assert.ok(job?.completedAt);
      assert.deepEqual(job?.usage, usage(5 + 1 + 3 + 100, 7 + 2 + 4 + 200));
      assert.equal(await store.claimSynthesis(id, 'merger-b', 60), 'done');
      assert.ok(!(await store.jobsAwaitingSynthesis(0)).includes(id));
      await assert.rejects(store.claimSynthesis(randomUUID(), 'merger-a', 60), NotFoundError);
      await assert.rejects(store.completeJob(randomUUID(), 'x', usage(0, 0)), NotFoundError);
    });

    it('lets another merger re-claim a synthesis whose lease ran out', async () => {
      const id = await plannedJob(store, 1);
      await store.recordPart(result(id, 0));
      assert.equal(await store.claimSynthesis(id, 'crashed-merger', 0), 'claimed');
      assert.ok((await store.jobsAwaitingSynthesis(60)).includes(id), 'an expired lease is awaiting synthesis again');
      assert.equal(await store.claimSynthesis(id, 'merger-b', 60), 'claimed');
      assert.equal(await store.claimSynthesis(id, 'merger-c', 60), 'busy');
      assert.ok(!(await store.jobsAwaitingSynthesis(60)).includes(id));
      assert.ok((await store.jobsAwaitingSynthesis(0)).includes(id), 'a lease older than the given seconds counts as run out');
    });

    it('does not list jobs whose parts are still out', async () => {
      const id = await plannedJob(store, 2);
      await store.recordPart(result(id, 0));
      assert.ok(!(await store.jobsAwaitingSynthesis(0)).includes(id));
    });

    it('fails a job; a failed job is done', async () => {
      const id = await plannedJob(store, 1);
      await store.failJob(id, 'planner broke');
      await store.failJob(id, 'again');
      const job = await store.getJob(id);
      assert.deepEqual([job?.status, job?.error], ['failed', 'planner broke']);
      assert.equal(await store.claimSynthesis(id, 'merger-a', 60), 'done');
      await store.completeJob(id, 'too late', usage(1, 1));
      assert.equal((await store.getJob(id))?.status, 'failed');
      await assert.rejects(store.failJob(randomUUID(), 'x'), NotFoundError);
    });

    it('cancels an unfinished job and its pending parts, once', async () => {
      const id = await plannedJob(store, 3);
      await store.startPart(id, 0);
      await store.recordPart(result(id, 1));
      assert.equal(await store.cancelJob(id), true);
      assert.equal(await store.cancelJob(id), false);
      const job = await store.getJob(id);
      assert.equal(job?.status, 'cancelled');
      assert.deepEqual(job?.parts.map((p) => p.status), ['cancelled', 'completed', 'cancelled']);
      assert.equal((await store.startPart(id, 2)).cancelled, true);
      assert.equal((await store.getJob(id))?.parts[2]?.status, 'cancelled');
      assert.equal((await store.recordPart(result(id, 2))).recorded, false);
      assert.equal(await store.claimSynthesis(id, 'merger-a', 60), 'done');

      const done = await plannedJob(store, 1);
      await store.recordPart(result(done, 0));
      await store.completeJob(done, 'answer', usage(0, 0));
      assert.equal(await store.cancelJob(done), false);
      assert.equal((await store.getJob(done))?.status, 'completed');
      await assert.rejects(store.cancelJob(randomUUID()), NotFoundError);
    });

    it('answers "cancelled" for the tasks of a job cancelled while it was planning', async () => {
      const job = newJob();
      await store.createJob(job);
      assert.equal(await store.cancelJob(job.id), true);
      await store.setPlan(job.id, plan(2), false);
      const got = await store.getJob(job.id);
      assert.deepEqual([got?.status, got?.parts.length], ['cancelled', 0]);
      assert.equal((await store.startPart(job.id, 1)).cancelled, true);
      assert.deepEqual(await store.recordPart(result(job.id, 1)), { recorded: false, complete: true });
      assert.equal(await store.claimSynthesis(job.id, 'merger-a', 60), 'done');
    });

    it('synthesises exactly once when the last two parts of a job arrive together', async () => {
      // Each merger records its part, and claims only when its record says the job is complete.
      const merger = async (s: Store, jobId: string, index: number, name: string) => {
        const r = await s.recordPart(result(jobId, index));
        return { ...r, claim: r.complete ? await s.claimSynthesis(jobId, name, 60) : null };
      };
      for (let round = 0; round < 15; round++) {
        const id = await plannedJob(store, 3);
        await store.recordPart(result(id, 0));
        const [a, b] = await Promise.all([merger(store, id, 1, 'merger-a'), merger(other, id, 2, 'merger-b')]);
        assert.ok(a.recorded && b.recorded);
        assert.equal([a, b].filter((x) => x.complete).length, 1, `round ${round}: exactly one sees the job complete`);
        assert.equal([a, b].filter((x) => x.claim === 'claimed').length, 1, `round ${round}: exactly one claims`);
      }
    });

    it('grants a contested claim to exactly one of two mergers', async () => {
      for (let round = 0; round < 15; round++) {
        const id = await plannedJob(store, 1);
        await store.recordPart(result(id, 0));
        const claims = await Promise.all([store.claimSynthesis(id, 'merger-a', 60), other.claimSynthesis(id, 'merger-b', 60)]);
        assert.deepEqual(claims.sort(), ['busy', 'claimed']);
      }
    });

    it('keeps a per-job progress history in order', async () => {
      const id = await plannedJob(store, 2);
      await store.addJobEvent(id, 'planned', { parts: 2 });
      await store.addJobEvent(id, 'part.started', { index: 0, text: 'ünïcode ✓' });
      await store.addJobEvent(id, 'part.completed', null);
      const all = await store.listJobEvents(id);
      assert.deepEqual(all.map((e) => [e.seq, e.stage]), [[1, 'planned'], [2, 'part.started'], [3, 'part.completed']]);
      assert.deepEqual(all[1]?.data, { index: 0, text: 'ünïcode ✓' });
      assert.equal(all[2]?.data, null);
      assert.equal(new Date(all[0]!.at).toISOString(), all[0]?.at);
      assert.deepEqual((await store.listJobEvents(id, 2)).map((e) => e.seq), [3]);
      assert.deepEqual(await store.listJobEvents(randomUUID()), []);
      await assert.rejects(store.addJobEvent(randomUUID(), 'planned', {}), NotFoundError);
    });

    it('lists jobs newest first', async () => {
      const first = await plannedJob(store, 1);
      const second = await plannedJob(store, 1);
      const jobs = await store.listJobs(2);
      assert.deepEqual(jobs.map((j) => j.id), [second, first]);
      assert.equal(jobs[0]?.parts.length, 1);
    });

    it('records a job\'s principal and lists only a principal\'s jobs (and its end user\'s) when scoped', async () => {
      const tag = randomUUID().slice(0, 8);
      const mine = newJob({ principal: { id: `user:a-${tag}`, role: 'user' } });
      const theirs = newJob({ principal: { id: `user:b-${tag}`, role: 'user' } });
      const viaU1 = newJob({ principal: { id: `gateway:g-${tag}`, role: 'gateway' }, meta: { user: `u1-${tag}` } });
      const viaU2 = newJob({ principal: { id: `gateway:g-${tag}`, role: 'gateway' }, meta: { user: `u2-${tag}` } });
      for (const j of [mine, theirs, viaU1, viaU2]) await store.createJob(j);
      const got = await store.getJob(mine.id);
      assert.equal(got?.principal, `user:a-${tag}`);
      assert.equal(got?.principalRole, 'user');
      const ids = async (scope: { principal?: string; user?: string }) => (await store.listJobs(200, scope)).map((j) => j.id).sort();
      assert.deepEqual(await ids({ principal: `user:a-${tag}` }), [mine.id]);
      assert.deepEqual(await ids({ principal: `gateway:g-${tag}` }), [viaU1.id, viaU2.id].sort());
      assert.deepEqual(await ids({ principal: `gateway:g-${tag}`, user: `u1-${tag}` }), [viaU1.id]);
      const unnamed = newJob();
      await store.createJob(unnamed);
      assert.equal((await store.getJob(unnamed.id))?.principal, 'unknown');
    });

    it('counts a principal\'s unfinished jobs and the tokens of its recent ones', async () => {
      const principal = { id: `user:u-${randomUUID().slice(0, 8)}`, role: 'user' };
      assert.deepEqual(await store.principalUsage({ principal: principal.id }, 86_400), { active: 0, tokens: 0, oldestAt: null });
      const done = newJob({ principal });
      await store.createJob(done);
      await store.setPlan(done.id, plan(1), false, usage(3, 4));
      await store.recordPart(result(done.id, 0));
      await store.completeJob(done.id, 'answer', usage(1, 2));
      const running = newJob({ principal });
      await store.createJob(running);
      const got = await store.principalUsage({ principal: principal.id }, 86_400);
      const part = (await store.getJob(done.id))!.parts[0]!.usage;
      assert.equal(got.active, 1);
      assert.equal(got.tokens, 3 + 4 + 1 + 2 + part.promptTokens + part.completionTokens);
      assert.equal(got.oldestAt, (await store.getJob(done.id))!.createdAt);
      assert.equal((await store.principalUsage({ principal: principal.id, user: 'nobody' }, 86_400)).active, 0);
    });

    // The count and the insert are one statement under an advisory lock for the scope; two
    // transactions interleaving inside it cannot be forced from here, so this checks what the
    // limit means (test/security/limits.test.ts races whole requests).
    it('creates a job under a limit only while its scope has room, one end user apart from another', async () => {
      // GIVEN a principal with one job running, and a gateway's end user of another principal
      const principal = { id: `user:l-${randomUUID().slice(0, 8)}`, role: 'user' };
      const limit = { scope: { principal: principal.id }, maxActive: 3 };
      await store.createJob(newJob({ principal, limit }));
      // WHEN six more are asked for at once, on two connections where the store has two, limit 3
      const made = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : store).createJob(newJob({ principal, limit }))));
      // THEN two are created and four refused with a TooManyRequestsError naming the setting
      assert.equal(made.filter((m) => m.status === 'fulfilled').length, 2);
      for (const m of made.filter((x) => x.status === 'rejected')) {
        const err = (m as PromiseRejectedResult).reason;
        assert.ok(err instanceof TooManyRequestsError, String(err));
        assert.equal(err.message, '3 jobs running; at most 3 at once (AIPROC_MAX_JOBS_PER_KEY)');
      }
      assert.equal((await store.principalUsage(limit.scope, 86_400)).active, 3);
      // AND a finished job frees its place; another scope (an end user, or no limit) is not counted
      const [newest] = await store.listJobs(1, { principal: principal.id });
      await store.failJob(newest!.id, 'done with it');
      await store.createJob(newJob({ principal, limit }));
      const gateway = { id: `gateway:g-${randomUUID().slice(0, 8)}`, role: 'gateway' };
      await store.createJob(newJob({ principal: gateway, meta: { user: 'u1' }, limit: { scope: { principal: gateway.id, user: 'u1' }, maxActive: 1 } }));
      await store.createJob(newJob({ principal: gateway, meta: { user: 'u2' }, limit: { scope: { principal: gateway.id, user: 'u2' }, maxActive: 1 } }));
      await assert.rejects(store.createJob(newJob({ principal: gateway, meta: { user: 'u1' }, limit: { scope: { principal: gateway.id, user: 'u1' }, maxActive: 1 } })), TooManyRequestsError);
      await store.createJob(newJob({ principal }));
    });

    it('sees an inbox event once per (source, id)', async () => {
      const id = randomUUID();
      assert.equal(await store.markEventProcessed('n8n/flow-1', id), true);
      assert.equal(await store.markEventProcessed('n8n/flow-1', id), false);
      assert.equal(await other.markEventProcessed('n8n/flow-1', id), false);
      assert.equal(await store.markEventProcessed('n8n/flow-2', id), true);
    });

    rulesContract(() => store);

    it('keeps jobs across a restart', async () => {
      const id = await plannedJob(store, 2);
      await store.recordPart(result(id, 0));
      if (other !== store) await other.close();
      await store.close();
      store = await h.open();
      await store.init();
      other = h.concurrent ? await h.open() : store;
      const job = await store.getJob(id);
      assert.equal(job?.status, 'running');
      assert.equal(job?.parts[0]?.output, 'answer 0');
      assert.equal((await store.recordPart(result(id, 0))).recorded, false);
    });
  });
}
