import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { AmqpBus } from '../../functions/lib/bus/amqp/index.ts';
import { EventTypes, makeEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import { createVhost, rabbitmqctl, testLog, waitFor } from '../bus/amqp-support.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { ROOT, startCluster, startPrivatePostgres, type ClusterProcess, type PrivatePostgres } from './support.ts';
import { testEventKeys } from '../support/event-keys.ts';

/*
 * The failure list of issue 4, against `npm run cluster`'s processes, the real RabbitMQ (a vhost
 * of this file's own) and a private Postgres this file starts (so it can restart it).
 * The scripted models: the planner splits "job <TAG> parts=<n>" into n parts "<TAG> part <i>"
 * over the three models; a part answers "answer(<prompt>)"; the merger answers
 * "MERGED[<n> sections] <TAG>". Hooks let a test hold or stall one call.
 */

const SLUGS = ['codellama-7b', 'codellama-34b', 'codellama-70b'];
type Hook = (req: ReceivedChat, role: ReturnType<typeof roleOf>, text: string) => Reply | Promise<Reply> | undefined;
const hooks: Hook[] = [];

const lastUser = (req: ReceivedChat) => req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
const allText = (req: ReceivedChat) => req.messages.map((m) => m.content).join('\n');

function script(req: ReceivedChat): Reply | Promise<Reply> {
  const role = roleOf(req);
  const text = role === 'part' ? lastUser(req) : allText(req);
  for (const h of hooks) {
    const r = h(req, role, text);
    if (r) return r;
  }
  if (role === 'planner') {
    const m = /job (\S+) parts=(\d+)/.exec(lastUser(req));
    if (!m) return { content: JSON.stringify({ parts: [{ title: 'Only', prompt: lastUser(req), model: SLUGS[0] }] }) };
    const n = Number(m[2]);
    const parts = Array.from({ length: n }, (_, i) => ({ title: `Part ${i}`, prompt: `${m[1]} part ${i}`, model: SLUGS[i % SLUGS.length] }));
    return { content: JSON.stringify({ parts }) };
  }
  if (role === 'merger') {
    const last = req.messages.at(-1)?.content ?? '';
    const n = (last.match(/^### /gm) ?? []).length;
    const tag = /(T[A-Za-z0-9]+) part \d+/.exec(last)?.[1] ?? '?';
    return { content: `MERGED[${n} sections] ${tag}`, chunks: 2 };
  }
  return { content: `answer(${text})`, chunks: 2 };
}

/** Calls the scripted server received, by role, for a tag (`TAG part i` for parts). */
function callsFor(ollama: ScriptedOllama, role: 'planner' | 'merger' | 'part', needle: string): number {
  return ollama.received.filter((r) => roleOf(r) === role && (role === 'part' ? lastUser(r) === needle : allText(r).includes(needle))).length;
}

let vh: Awaited<ReturnType<typeof createVhost>>;
let db: PrivatePostgres;
let ollama: ScriptedOllama;
let cluster: ClusterProcess;
let bus: AmqpBus;
let tmp: string;
/** Distinct job.completed event ids per job (a redelivered copy has the same id). */
const completedIds = new Map<string, Set<string>>();
const completedEvents = { get: (jobId: string) => completedIds.get(jobId)?.size ?? 0 };
const tasksByTag = new Map<string, string>();

/**
 * The observer reads its copies from aiproc.events, which can trail the reply the client already
 * got: wait until it has seen a job.completed for each job before counting them.
 */
async function observedCompleted(ids: Iterable<string>): Promise<void> {
  const all = [...ids];
  await waitFor('the observer to see every job.completed', () => all.every((id) => completedEvents.get(id) >= 1), 30_000);
}
const partResults: Array<{ jobId: string; index: number; output: string }> = [];
const OBSERVER_QUEUE = 'test.observer';

async function ask(tag: string, parts = 3): Promise<{ status: number; content: string; id: string }> {
  const res = await fetch(`${cluster.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: `job ${tag} parts=${parts}` }] }),
  });
  const body = (await res.json()) as { id?: string; choices?: Array<{ message: { content: string } }> };
  return { status: res.status, content: body.choices?.[0]?.message.content ?? JSON.stringify(body), id: body.id ?? '' };
}

interface JobView {
  id: string;
  status: string;
  answer: string | null;
  parts: Array<{ index: number; status: string; attempts: number; output: string | null }>;
}
const job = async (id: string) => (await (await fetch(`${cluster.url}/v1/jobs/${id}`)).json()) as JobView;

/** Messages in a queue of our vhost, ready and unacknowledged. */
async function queueTotal(name: string): Promise<number> {
  const line = (await rabbitmqctl('list_queues', '-p', vh.vhost, 'name', 'messages')).split('\n').find((l) => l.startsWith(`${name}\t`));
  return Number(line?.split('\t')[1] ?? 0);
}

before(async () => {
  vh = await createVhost('cluster');
  db = await startPrivatePostgres();
  ollama = await startScriptedOllama(script);
  tmp = mkdtempSync(join(tmpdir(), 'aiproc-cluster-'));
  // The repository's models, with more parts in flight per process for the load test.
  const cfg = JSON.parse(readFileSync(join(ROOT, 'models.json'), 'utf8')) as { models: Array<{ scaling: { concurrency: number } }> };
  for (const m of cfg.models) m.scaling.concurrency = 8;
  writeFileSync(join(tmp, 'models.json'), JSON.stringify(cfg));
  cluster = await startCluster({
    AMQP_URL: vh.url,
    DATABASE_URL: db.url,
    OLLAMA_HOST: ollama.url,
    AIPROC_MODELS_FILE: join(tmp, 'models.json'),
    AIPROC_DATA_DIR: tmp,
    AIPROC_SYNTHESIS_LEASE_S: '3',
    AIPROC_TASK_ATTEMPTS: '6',
    AIPROC_RETRY_DELAY_MS: '200',
    // One merger call per job (the full rewrite) is what these tests count; stitched.slow.ts has the stitched default.
    AIPROC_SYNTHESIS: 'rewrite',
  });
  bus = await AmqpBus.start({ url: vh.url, log: testLog, instance: 'test-observer', models: SLUGS, eventKeys: testEventKeys });
  // A durable queue on the events topic, so that the observer misses nothing across forced closes.
  const raw = await amqp.connect(vh.url);
  const ch = await raw.createChannel();
  await ch.assertQueue(OBSERVER_QUEUE, { durable: true });
  await ch.bindQueue(OBSERVER_QUEUE, 'aiproc.events', '#');
  await raw.close();
  await bus.consume(OBSERVER_QUEUE, async (e: AnyEvent) => {
    if (e.type === EventTypes.jobCompleted) {
      const set = completedIds.get(e.data.jobId) ?? new Set<string>();
      completedIds.set(e.data.jobId, set.add(e.id));
    } else if (e.type === EventTypes.taskRequested) {
      tasksByTag.set(e.data.part.prompt, e.data.jobId);
    } else if (e.type === EventTypes.taskCompleted) {
      partResults.push({ jobId: e.data.jobId, index: e.data.index, output: e.data.output });
    }
  }, { concurrency: 50, attempts: 1 });
});

after(async () => {
  await cluster?.stop();
  await bus?.close();
  await ollama?.close();
  await db?.stop();
  await vh?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('npm run cluster: failures that must lose nothing', () => {
  test('an inference process SIGKILLed mid-generation: its part is redelivered to the restarted process and the job completes', async () => {
    const tag = 'Tkill';
    let stalled = false;
    hooks.push((_r, role, text) => (role === 'part' && text === `${tag} part 1` && !stalled ? ((stalled = true), { endless: '.', chunkDelayMs: 20 }) : undefined));
    const pending = ask(tag);
    await waitFor('part 1 to be generating', () => callsFor(ollama, 'part', `${tag} part 1`) === 1);
    const victim = 'inference-codellama-34b';
    process.kill(cluster.pidOf(victim), 'SIGKILL');
    const res = await pending;
    assert.equal(res.status, 200, res.content);
    assert.equal(res.content, `MERGED[3 sections] ${tag}`);
    assert.equal(cluster.starts(victim), 2, 'the launcher restarted it');
    assert.equal(callsFor(ollama, 'part', `${tag} part 1`), 2, 'generated again after the crash');
    assert.equal(callsFor(ollama, 'merger', tag), 1, 'one synthesis');
    const j = await job(res.id);
    assert.equal(j.status, 'completed');
    assert.deepEqual(j.parts.map((p) => p.status), ['completed', 'completed', 'completed']);
    await observedCompleted([res.id]);
    assert.equal(completedEvents.get(res.id), 1);
  });

  test('the same task.completed delivered twice (and a duplicate with another id): one part row, one synthesis', async () => {
    const tag = 'Tdup';
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    hooks.push((_r, role, text) => (role === 'part' && text === `${tag} part 2` ? gate.then(() => ({ content: 'answer(real)', chunks: 1 })) : undefined));
    const pending = ask(tag);
    await waitFor('part 2 to be held', () => callsFor(ollama, 'part', `${tag} part 2`) === 1);
    const jobId = tasksByTag.get(`${tag} part 2`)!;
    await waitFor('parts 0 and 1 recorded', async () => (await job(jobId)).parts.filter((p) => p.status === 'completed').length === 2);
    const now = new Date().toISOString();
    const data = { jobId, index: 2, model: 'codellama-70b', output: 'answer(first copy)', usage: { promptTokens: 1, completionTokens: 1 }, startedAt: now, finishedAt: now, attempts: 1 };
    const dup = makeEvent(EventTypes.taskCompleted, data, { source: '/test', jobid: jobId, model: 'codellama-70b' });
    const other = makeEvent(EventTypes.taskCompleted, { ...data, output: 'answer(second copy)' }, { source: '/test', jobid: jobId, model: 'codellama-70b' });
    await Promise.all([bus.publish(dup), bus.publish(dup), bus.publish(other)]);
    const res = await pending;
    assert.equal(res.content, `MERGED[3 sections] ${tag}`);
    open(); // now the real result arrives too, late: a fourth copy
    await waitFor('the real part 2 result to be published', () => partResults.some((p) => p.jobId === jobId && p.output === 'answer(real)'));
    await waitFor('the results queue to be drained', async () => (await queueTotal('aiproc.results')) === 0);
    const j = await job(jobId);
    assert.equal(j.parts.length, 3, 'one row per part');
    assert.equal(j.parts[2]!.status, 'completed');
    assert.ok(['answer(first copy)', 'answer(second copy)'].includes(j.parts[2]!.output ?? ''), 'the first result recorded wins');
    assert.equal(callsFor(ollama, 'merger', tag), 1, 'one synthesis');
    await observedCompleted([jobId]);
    assert.equal(completedEvents.get(jobId), 1, 'one job.completed');
  });

  test('the merger SIGKILLed during synthesis: after its restart the synthesis happens, exactly once', async () => {
    const tag = 'Tmerge';
    let stalled = false;
    hooks.push((_r, role, text) => (role === 'merger' && text.includes(`${tag} part`) && !stalled ? ((stalled = true), { endless: '.', chunkDelayMs: 20 }) : undefined));
    const pending = ask(tag);
    await waitFor('the synthesis to be generating', () => callsFor(ollama, 'merger', tag) === 1);
    const jobId = tasksByTag.get(`${tag} part 0`)!;
    assert.deepEqual((await job(jobId)).parts.map((p) => p.status), ['completed', 'completed', 'completed'], 'every part recorded before the kill');
    process.kill(cluster.pidOf('merger'), 'SIGKILL');
    const res = await pending;
    assert.equal(res.content, `MERGED[3 sections] ${tag}`);
    assert.equal(cluster.starts('merger'), 2);
    assert.equal(callsFor(ollama, 'merger', tag), 2, 'the interrupted synthesis and the one that finished');
    await observedCompleted([jobId]);
    assert.equal(completedEvents.get(jobId), 1, 'completed exactly once');
    assert.equal((await job(jobId)).status, 'completed');
  });

  test('RabbitMQ connections forcibly closed: every process reconnects and the jobs in flight complete', async () => {
    hooks.push((_r, role, text) => (role === 'part' && text.startsWith('Tconn') ? { content: `answer(${text})`, chunks: 5, chunkDelayMs: 60 } : undefined));
    const tags = Array.from({ length: 10 }, (_, i) => `Tconn${i}`);
    const pending = Promise.all(tags.map((t) => ask(t)));
    await waitFor('parts in flight', () => ollama.received.filter((r) => roleOf(r) === 'part' && lastUser(r).startsWith('Tconn')).length >= 4);
    await vh.closeConnections();
    const results = await pending;
    for (const [i, r] of results.entries()) assert.equal(r.content, `MERGED[3 sections] ${tags[i]}`);
    for (const t of tags) assert.equal(callsFor(ollama, 'merger', `${t} part`), 1, `one synthesis for ${t}`);
    await observedCompleted(results.map((r) => r.id));
    for (const r of results) assert.equal(completedEvents.get(r.id), 1);
    const names = ['splitter', 'merger', 'feedback', ...SLUGS.map((s) => `inference-${s}`)];
    await waitFor('all six processes connected again', async () => {
      const props = await rabbitmqctl('list_connections', '-p', vh.vhost, 'client_properties');
      return names.every((n) => props.includes(`aiproc ${n}`));
    });
  });

  test('Postgres restarted during load: handlers retry, every job ends (completed or failed visibly), none stuck', async () => {
    hooks.push((_r, role, text) => (role === 'part' && text.startsWith('Tpg') ? { content: `answer(${text})`, chunks: 4, chunkDelayMs: 50 } : undefined));
    const tags = Array.from({ length: 20 }, (_, i) => `Tpg${i}`);
    const pending = Promise.all(tags.map((t) => ask(t)));
    await waitFor('parts in flight', () => ollama.received.filter((r) => roleOf(r) === 'part' && lastUser(r).startsWith('Tpg')).length >= 6);
    const logBefore = cluster.stderr().length;
    await db.restart(500);
    const results = await pending;
    const visible = results.filter((r) => r.status !== 200);
    for (const r of visible) assert.ok(r.status >= 500, `a failure the client can see: ${r.status} ${r.content}`);
    const created = tags.map((t) => tasksByTag.get(`${t} part 0`)).filter((id): id is string => id !== undefined);
    await waitFor('every job to end', async () => (await Promise.all(created.map(job))).every((j) => ['completed', 'failed'].includes(j.status)), 60_000);
    const jobs = await Promise.all(created.map(job));
    const completed = jobs.filter((j) => j.status === 'completed');
    await observedCompleted(completed.map((j) => j.id));
    for (const j of completed) assert.equal(completedEvents.get(j.id), 1, `one job.completed for ${j.id}`);
    for (const t of tags) assert.ok(callsFor(ollama, 'merger', `${t} part`) <= 1, `at most one synthesis for ${t}`);
    const retried = (cluster.stderr().slice(logBefore).match(/delivery failed; retrying/g) ?? []).length;
    assert.ok(retried > 0, 'the restart hit work in flight (else this test proves nothing)');
    process.stdout.write(`# postgres restart: ${retried} deliveries retried in-process; 20 requests, ${results.length - visible.length} answered 200, ${visible.length} failed visibly; ${created.length} jobs created, ${completed.length} completed, ${jobs.length - completed.length} failed\n`);
    assert.equal(results.filter((r) => r.status === 200).length, completed.length, 'every 200 is a completed job');
  });

  test('200 concurrent jobs × 3 parts: all complete, zero lost, zero duplicate synthesis', async () => {
    const tags = Array.from({ length: 200 }, (_, i) => `Tload${i}`);
    const t0 = performance.now();
    const results = await Promise.all(tags.map((t) => ask(t)));
    const seconds = (performance.now() - t0) / 1000;
    const wrong = results.filter((r, i) => r.status !== 200 || r.content !== `MERGED[3 sections] ${tags[i]}`);
    assert.deepEqual(wrong, [], 'every job answered right');
    const ids = new Set(results.map((r) => r.id));
    assert.equal(ids.size, 200);
    const synth = tags.map((t) => callsFor(ollama, 'merger', `${t} part`));
    assert.deepEqual(synth.filter((n) => n !== 1), [], 'exactly one synthesis per job');
    const parts = ollama.received.filter((r) => roleOf(r) === 'part' && lastUser(r).startsWith('Tload')).length;
    assert.equal(parts, 600, 'each part generated once: none lost, none duplicated');
    await observedCompleted(ids);
    for (const id of ids) assert.equal(completedEvents.get(id), 1);
    const jobs = await Promise.all([...ids].map(job));
    assert.equal(jobs.filter((j) => j.status === 'completed' && j.parts.length === 3 && j.parts.every((p) => p.status === 'completed')).length, 200);
    process.stdout.write(`# load: 200 jobs × 3 parts in ${seconds.toFixed(1)} s = ${(600 / seconds).toFixed(1)} parts/s\n`);
  });

  test('Ctrl-C stops every process and the launcher exits 0', async () => {
    const names = ['splitter', 'merger', 'feedback', ...SLUGS.map((s) => `inference-${s}`)];
    const pids = names.map((n) => cluster.pidOf(n));
    const exited = new Promise<number | null>((r) => cluster.proc.once('exit', (code) => r(code)));
    cluster.proc.kill('SIGINT');
    assert.equal(await exited, 0);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, [], 'no process left behind');
    assert.match(cluster.stdout(), /cluster: SIGINT: stopping 6 processes/);
  });
});
