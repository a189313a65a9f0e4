/**
 * The n8n workflows in a real n8n: `npm run test:n8n`.
 *
 * n8n is large (about 3 GB installed), so it lives outside the project, in
 * `~/.cache/aiproc/n8n` (AIPROC_N8N_CACHE), installed on first use with the npm registry and
 * reused after. Its install scripts are skipped: they only build optional native modules
 * (Kafka, SQLite) by downloading sources from the internet; n8n here keeps its data in a fresh
 * PostgreSQL database (127.0.0.1:5432, user postgres) instead of SQLite.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import amqp from 'amqplib';
import pg from 'pg';
import { pino } from 'pino';
import { createFeedbackHttp } from '../../functions/feedback/http.ts';
import { AmqpBus } from '../../functions/lib/bus/amqp/index.ts';
import { encode } from '../../functions/lib/bus/amqp/codec.ts';
import { EventTypes, makeEvent, type AnyEvent } from '../../functions/lib/events/index.ts';
import type { Store } from '../../functions/lib/store/types.ts';
import { ensureN8n, importPatched as importWith, N8N_VERSION, n8nBin, n8nCacheDir as cacheDir, n8nEnv, readWorkflow, repoN8n, run } from '../support/n8n.ts';
import { makeCtx, openStore, seedJob } from '../feedback/support.ts';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { freePort } from '../support/free-port.ts';
import { startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';

/** The newest n8n whose dependencies all resolve from the registry here (2.41.3 names an @n8n/agents that is missing). */
describe('n8n workflows in a real n8n', { timeout: 25 * 60_000 }, () => {
  const database = `aiproc_n8n_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
  const feedbackToken = `fb-${randomUUID()}`;
  const openwebuiKey = `sk-${randomUUID()}`;
  let userFolder: string;
  let env: NodeJS.ProcessEnv;
  let store: Store;
  let feedbackServer: ServerType;
  let feedbackUrl: string;
  const feedbackCalls: Array<{ headers: IncomingHttpHeaders; status: number; body: string }> = [];
  const feedbackListeners: Array<(call: { headers: IncomingHttpHeaders; status: number; body: string }) => void> = [];
  let openwebui: ReturnType<typeof createServer>;
  let openwebuiUrl: string;
  const openwebuiCalls: Array<IncomingHttpHeaders & { url?: string }> = [];
  let records: unknown[] = [];
  let webAppOnly = false;
  /** The feedback endpoint answers 503 (aiproc down) while set. */
  let feedbackDown = false;
  // The rule drafting asks a real aiproc (npm start) for the planner model, on a scripted Ollama.
  let ollama: ScriptedOllama;
  let aiproc: AiprocProcess;
  let draftUrl: string;
  // A stand-in for aiproc's POST /v1/eval/rule (the route itself is tested in test/eval/rule-check.test.ts).
  let evalServer: ReturnType<typeof createServer>;
  let evalUrl: string;
  const evalCalls: Array<{ authorization?: string; body: Record<string, any> }> = [];
  const apiKey = `sk-${randomUUID()}`;
  let chatId: string;
  let messageId: string;
  let jobId: string;

  const n8n = (...args: string[]) => run(n8nBin, args, env, userFolder);

  before(async () => {
    await ensureN8n();
    await admin.connect();
    await admin.query(`create database ${database}`);
    userFolder = await mkdtemp(join(tmpdir(), 'aiproc-n8n-'));
    env = n8nEnv(userFolder, database, randomBytes(24).toString('hex'));

    // The feedback function, on a real port, with the real store.
    store = await openStore();
    chatId = `chat-${randomUUID()}`;
    messageId = `msg-${randomUUID()}`;
    jobId = await seedJob(store, { chatId, messageId });
    const app = createFeedbackHttp(makeCtx(store, { AIPROC_FEEDBACK_TOKENS: feedbackToken }));
    feedbackServer = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: async (req) => {
        const body = await req.clone().text();
        const res = feedbackDown ? new Response('{"error":{"message":"store unreachable"}}', { status: 503 }) : await app.fetch(req);
        const call = { headers: Object.fromEntries(req.headers), status: res.status, body };
        feedbackCalls.push(call);
        for (const listen of feedbackListeners) listen(call);
        return res;
      }, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    feedbackUrl = `http://127.0.0.1:${(feedbackServer.address() as AddressInfo).port}/`;

    // A stand-in for OpenWebUI's GET /api/v1/evaluations/feedbacks/all (admin only).
    const now = Math.floor(Date.now() / 1000);
    records = [
      { id: 'fb-known', user_id: 'user-1', version: 0, type: 'rating', data: { rating: 1, details: { rating: 9 }, model_id: 'aiproc', reason: 'thorough_explanation', comment: 'spot on' }, meta: { chat_id: chatId, message_id: messageId }, created_at: now, updated_at: now },
      { id: 'fb-elsewhere', user_id: 'user-1', version: 0, type: 'rating', data: { rating: -1, model_id: 'aiproc' }, meta: { chat_id: 'chat-not-aiproc', message_id: 'msg-not-aiproc' }, created_at: now, updated_at: now },
    ];
    // A stand-in for OpenWebUI 0.12.4's feedback API (routers/evaluations.py, admin only): the id list
    // (newest first), one record by id, the whole export; or, when `webAppOnly`, the web app's HTML
    // page for every path, as OpenWebUI answers a route it does not have.
    openwebui = createServer((req, res) => {
      openwebuiCalls.push({ ...req.headers, url: req.url });
      if (webAppOnly) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><head><title>Open WebUI</title></head><body></body></html>');
      if (req.headers.authorization !== `Bearer ${openwebuiKey}`) return void res.writeHead(401).end('{"detail":"Not authenticated"}');
      const list = records as Array<{ id: string; user_id: string; created_at: number; updated_at: number }>;
      const json = (body: unknown, status = 200) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/api/v1/evaluations/feedbacks/all/ids')
        return json([...list].sort((a, b) => b.updated_at - a.updated_at).map(({ id, user_id, created_at, updated_at }) => ({ id, user_id, created_at, updated_at })));
      if (req.url === '/api/v1/evaluations/feedbacks/all/export') return json(list);
      const one = req.url?.match(/^\/api\/v1\/evaluations\/feedback\/([^/?]+)$/);
      const found = one && list.find((f) => f.id === decodeURIComponent(one[1]!));
      if (found) return json(found);
      json({ detail: 'Not Found' }, 404);
    });
    await new Promise<void>((r) => openwebui.listen(0, '127.0.0.1', r));
    openwebuiUrl = `http://127.0.0.1:${(openwebui.address() as AddressInfo).port}`;

    // The planner model "drafts" a fixed rule; aiproc (with n8n's key as an admin key) serves it.
    const draft = { scope: 'merger', model: '*', text: 'Keep the merged answer under 300 words.', reason: 'answers were called too long' };
    ollama = await startScriptedOllama(() => ({ content: JSON.stringify(draft) }));
    aiproc = await startAiproc({ OLLAMA_HOST: ollama.url, AIPROC_ADMIN_KEYS: `n8n:${apiKey}` });
    draftUrl = `${aiproc.url}/v1/chat/completions`;

    evalServer = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        evalCalls.push({ ...(req.headers.authorization && { authorization: req.headers.authorization }), body: JSON.parse(body || '{}') });
        if (req.url !== '/v1/eval/rule' || req.headers.authorization !== `Bearer ${apiKey}`) return void res.writeHead(401).end('{"error":{"message":"missing or invalid API key"}}');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'eval.tally', questions: 6, wins: 4, ties: 1, losses: 1, invalidVerdicts: 0, failedAnswers: 0, judge: 'codellama-70b', results: [] }));
      });
    });
    await new Promise<void>((r) => evalServer.listen(0, '127.0.0.1', r));
    evalUrl = `http://127.0.0.1:${(evalServer.address() as AddressInfo).port}/v1/eval/rule`;
  });

  after(async () => {
    await new Promise<void>((r) => (openwebui ? openwebui.close(() => r()) : r()));
    await aiproc?.stop();
    await ollama?.close();
    await new Promise<void>((r) => (evalServer ? evalServer.close(() => r()) : r()));
    await new Promise<void>((r) => (feedbackServer ? feedbackServer.close(() => r()) : r()));
    await store?.close();
    await admin.query(`drop database if exists ${database} with (force)`).catch(() => {});
    await admin.end();
    if (userFolder) await rm(userFolder, { recursive: true, force: true });
  });

  it('imports every workflow file as it is, and every node type and credential type it uses exists', async () => {
    const r = await n8n('import:workflow', '--separate', `--input=${repoN8n}`);
    assert.equal(r.code, 0, r.out.slice(-4000));
    const files = (await readdir(repoN8n)).filter((f) => f.endsWith('.json'));
    const listed = await n8n('list:workflow');
    assert.equal(listed.code, 0, listed.out.slice(-2000));
    for (const f of files) assert.match(listed.out, new RegExp(`^${readWorkflow(f).id}\\|`, 'm'), `${f} imported`);

    const base = join(cacheDir, 'node_modules', 'n8n-nodes-base', 'dist', 'types');
    const nodeTypes = JSON.parse(readFileSync(join(base, 'nodes.json'), 'utf8')) as Array<{ name: string; version: number | number[] }>;
    const credentialTypes = new Set((JSON.parse(readFileSync(join(base, 'credentials.json'), 'utf8')) as Array<{ name: string }>).map((c) => c.name));
    const known = (type: string, version: number) =>
      nodeTypes.some((t) => `n8n-nodes-base.${t.name}` === type && [t.version].flat().includes(version));
    for (const f of files) {
      for (const node of readWorkflow(f).nodes) {
        assert.ok(known(node.type, node.typeVersion), `${f}: node "${node.name}" is ${node.type} v${node.typeVersion}, which n8n ${N8N_VERSION} does not have`);
        for (const type of Object.keys(node.credentials ?? {})) assert.ok(credentialTypes.has(type), `${f}: credential type ${type} unknown to n8n`);
      }
    }
  });

  /** Imports a workflow file with its Settings changed, plus the HTTP credentials it names (by their ids). */
  const importPatched = (file: string, values: Record<string, unknown>) =>
    importWith(n8n, userFolder, file, values, { 'aiproc feedback token': feedbackToken, 'OpenWebUI admin API key': openwebuiKey, 'aiproc API key': apiKey });

  it('executes the feedback sync against a stand-in OpenWebUI, and the rating reaches the feedback function and is stored', async () => {
    // The same workflow, its Settings pointed at the stand-ins; importing it again replaces it (same id).
    const wf = await importPatched('feedback-sync.json', { openwebuiUrl, feedbackUrl });
    const r = await n8n('execute', `--id=${wf.id}`, '--rawOutput');
    assert.equal(r.code, 0, r.out.slice(-6000));

    assert.deepEqual(openwebuiCalls.map((c) => c.url), ['/api/v1/evaluations/feedbacks/all/ids', '/api/v1/evaluations/feedback/fb-elsewhere', '/api/v1/evaluations/feedback/fb-known']);
    assert.ok(openwebuiCalls.every((c) => c.authorization === `Bearer ${openwebuiKey}`));
    // Both ratings were sent as CloudEvents with the token, oldest first; the one of a chat aiproc never saw was refused.
    assert.deepEqual(feedbackCalls.map((c) => [c.headers['ce-id'], c.status]), [['openwebui-feedback-fb-elsewhere', 400], ['openwebui-feedback-fb-known', 202]]);
    assert.ok(feedbackCalls.every((c) => c.headers.authorization === `Bearer ${feedbackToken}` && c.headers['ce-type'] === 'dev.aiproc.feedback.rated'));
    const rated = (await store.ratedJobs(1)).filter((x) => x.job.id === jobId);
    assert.deepEqual(rated.map((x) => x.score), [9]);
  });

  it('resumes from the last synced rating: nothing is sent twice, and a rating made while aiproc was down is sent once it is back', async () => {
    const wf = readWorkflow('feedback-sync.json');
    const sync = () => n8n('execute', `--id=${wf.id}`, '--rawOutput');
    feedbackCalls.length = 0;
    openwebuiCalls.length = 0;
    // GIVEN the run above synced everything: a second run sends nothing
    const again = await sync();
    assert.equal(again.code, 0, again.out.slice(-6000));
    assert.equal(feedbackCalls.length, 0);
    assert.deepEqual(openwebuiCalls.map((c) => c.url), ['/api/v1/evaluations/feedbacks/all/ids']);
    // WHEN a new rating comes while aiproc's feedback endpoint is down
    const later = Math.floor(Date.now() / 1000) + 5;
    records.push({ id: 'fb-later', user_id: 'user-1', version: 0, type: 'rating', data: { rating: -1, model_id: 'aiproc' }, meta: { chat_id: chatId, message_id: messageId }, created_at: later, updated_at: later });
    feedbackDown = true;
    const down = await sync();
    feedbackDown = false;
    // THEN that run fails loudly and the cursor stays
    assert.notEqual(down.code, 0, down.out.slice(-3000));
    assert.match(down.out, /did not take 1 rating\(s\): openwebui-feedback-fb-later → 503/);
    // AND the next run sends it (and only it)
    feedbackCalls.length = 0;
    const back = await sync();
    assert.equal(back.code, 0, back.out.slice(-6000));
    assert.deepEqual(feedbackCalls.map((c) => [c.headers['ce-id'], c.status]), [['openwebui-feedback-fb-later', 202]]);
    assert.deepEqual((await store.ratedJobs(1)).filter((x) => x.job.id === jobId).map((x) => x.score), [5]);
    records.pop();
  });

  it('fails loudly when OpenWebUI answers its web page instead of JSON (a wrong URL or another version), never "no ratings"', async () => {
    const wf = readWorkflow('feedback-sync.json');
    webAppOnly = true;
    try {
      const r = await n8n('execute', `--id=${wf.id}`, '--rawOutput');
      assert.notEqual(r.code, 0, r.out.slice(-3000));
      assert.match(r.out, /GET \/api\/v1\/evaluations\/feedbacks\/all\/ids answered 200 without a JSON list \(<!doctype html>/);
    } finally {
      webAppOnly = false;
    }
  });

  it('executes the rule drafting: low ratings go to the planner model, the eval checks its rule, the rule is stored inactive with the tally', async () => {
    const now = Math.floor(Date.now() / 1000);
    records = [
      { id: 'fb-long', user_id: 'user-2', version: 0, type: 'rating', data: { rating: -1, model_id: 'aiproc', reason: 'too_verbose', comment: 'far too long' }, meta: { chat_id: chatId, message_id: messageId }, created_at: now, updated_at: now },
      { id: 'fb-happy', user_id: 'user-2', version: 0, type: 'rating', data: { rating: 1, model_id: 'aiproc', comment: 'great' }, meta: { chat_id: chatId, message_id: messageId }, created_at: now, updated_at: now },
    ];
    feedbackCalls.length = 0;
    const wf = await importPatched('rule-drafting.json', { openwebuiUrl, feedbackUrl, draftUrl, evalUrl });
    const r = await n8n('execute', `--id=${wf.id}`, '--rawOutput');
    assert.equal(r.code, 0, r.out.slice(-6000));

    // One call, through aiproc's API to the planner's model (never to Ollama from n8n), held to the schema.
    assert.equal(ollama.received.length, 1);
    const asked = ollama.received[0]!;
    assert.equal(asked.model, 'codellama:7b-instruct');
    assert.deepEqual((asked.format as { required: string[] }).required, ['scope', 'model', 'text', 'reason']);
    assert.match(JSON.stringify(asked.messages), /far too long/);
    assert.doesNotMatch(JSON.stringify(asked.messages), /great/);
    const listed = (await (await fetch(`${aiproc.url}/v1/jobs?limit=5`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { data: { model: string; principal: string }[] };
    assert.deepEqual(listed.data.map((j) => [j.model, j.principal]), [['codellama-7b', 'admin:n8n']]);
    assert.deepEqual(feedbackCalls.map((c) => [c.headers['ce-type'], c.status]), [['dev.aiproc.rule.proposed', 202]]);
    assert.deepEqual(evalCalls, [{ authorization: `Bearer ${apiKey}`, body: { rule: { scope: 'merger', model: '*', text: 'Keep the merged answer under 300 words.' }, questions: 6 } }]);
    const proposed = (await store.listRules({ scope: 'merger' })).filter((x) => x.text === 'Keep the merged answer under 300 words.');
    assert.deepEqual(proposed.map((x) => [x.active, x.origin, x.model]), [[false, 'n8n', '*']]);
    assert.equal(proposed[0]!.reason, 'answers were called too long\n\neval on 6 questions (judge codellama-70b): with the rule better 4, ties 1, worse 1');
  });

  /** A RabbitMQ vhost of its own, so the test events reach no one else's queues. */
  async function rabbitVhost(): Promise<{ vhost: string; url: string; drop(): Promise<void> }> {
    const vhost = `aiproc-n8n-${randomBytes(4).toString('hex')}`;
    const ctl = (...args: string[]) => run('rabbitmqctl', args, process.env);
    for (const args of [['add_vhost', vhost], ['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']]) {
      const r = await ctl(...args);
      assert.equal(r.code, 0, `rabbitmqctl ${args.join(' ')}: ${r.out}`);
    }
    return { vhost, url: `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`, drop: async () => void (await ctl('delete_vhost', vhost)) };
  }

  /**
   * Imports the activity monitor (its RabbitMQ credential for `vhost`, its feedback token, its
   * report sent to `reportUrl`), publishes it, and declares its queue as its trigger declares it,
   * so events published now wait there until n8n's trigger consumes them, however long n8n takes to start.
   */
  async function prepareMonitor(vhost: string, url: string, reportUrl: string): Promise<void> {
    const wf = readWorkflow('activity-monitor.json');
    const dir = await mkdtemp(join(userFolder, 'import-'));
    const rabbitCred = wf.nodes.find((n) => n.credentials?.rabbitmq)!.credentials!.rabbitmq!;
    const sender = wf.nodes.find((n) => n.credentials?.httpBearerAuth)!;
    const tokenCred = sender.credentials!.httpBearerAuth!;
    sender.parameters.url = reportUrl;
    await writeFile(join(dir, 'activity-monitor.json'), JSON.stringify(wf));
    await writeFile(join(dir, 'credentials.json'), JSON.stringify([
      { id: rabbitCred.id, name: rabbitCred.name, type: 'rabbitmq', data: { hostname: '127.0.0.1', port: 5672, username: 'guest', password: 'guest', vhost, ssl: false } },
      { id: tokenCred.id, name: tokenCred.name, type: 'httpBearerAuth', data: { token: feedbackToken } },
    ]));
    for (const args of [['import:credentials', `--input=${join(dir, 'credentials.json')}`], ['import:workflow', `--input=${join(dir, 'activity-monitor.json')}`], ['publish:workflow', `--id=${wf.id}`]]) {
      const r = await n8n(...args);
      assert.equal(r.code, 0, `${args[0]}: ${r.out.slice(-4000)}`);
    }
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const trigger = wf.nodes.find((n) => n.type === 'n8n-nodes-base.rabbitmqTrigger')!;
    await ch.assertExchange('aiproc.events', 'topic', { durable: true });
    await ch.assertQueue(trigger.parameters.queue, { durable: true });
    for (const b of trigger.parameters.options.binding.bindings as Array<{ exchange: string; routingKey: string }>) await ch.bindQueue(trigger.parameters.queue, b.exchange, b.routingKey);
    await conn.close();
  }

  /**
   * Five tasks of one model, two failed: 40% failures, over the monitor's 20%. Each test names
   * its own model: the monitor remembers a model it reported on (workflow static data) for ten minutes.
   */
  function taskEvents(model: string): AnyEvent[] {
    const t = new Date().toISOString();
    const jobId = randomUUID();
    const attrs = { source: '/inference', jobid: jobId, model };
    return [
      ...[0, 1, 2].map((index) => makeEvent(EventTypes.taskCompleted, { jobId, index, model, output: 'ok', usage: { promptTokens: 1, completionTokens: 1 }, startedAt: t, finishedAt: t, attempts: 1 }, attrs)),
      ...[3, 4].map((index) => makeEvent(EventTypes.taskFailed, { jobId, index, model, error: 'model crashed', attempts: 3 }, attrs)),
    ];
  }

  /**
   * `n8n start`, which activates the published workflows. `gaveUp` rejects when n8n ends or
   * after `withinMs`, with what n8n said; `stop()` ends it and waits for it to be gone.
   */
  async function startN8n(withinMs: number): Promise<{ gaveUp: Promise<never>; output(): string; stop(): Promise<void> }> {
    const port = await freePort();
    const brokerPort = await freePort();
    const child = spawn(n8nBin, ['start'], { env: { ...env, N8N_PORT: String(port), N8N_RUNNERS_BROKER_PORT: String(brokerPort), N8N_HOST: '127.0.0.1', N8N_LISTEN_ADDRESS: '127.0.0.1' }, cwd: userFolder, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (d: Buffer) => void (out += d);
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    // AIPROC_N8N_DEBUG=1 shows what the started n8n says.
    if (process.env.AIPROC_N8N_DEBUG) {
      child.stdout.pipe(process.stderr);
      child.stderr.pipe(process.stderr);
    }
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    const gaveUp = new Promise<never>((_, reject) => {
      void closed.then(() => reject(new Error(`n8n start ended (${child.exitCode}) too early:\n${out.slice(-4000)}`)));
      AbortSignal.timeout(withinMs).addEventListener('abort', () => reject(new Error(`nothing came within ${withinMs / 1000} s of starting n8n:\n${out.slice(-4000)}`)));
    });
    gaveUp.catch(() => {});
    return {
      gaveUp,
      output: () => out,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await closed;
      },
    };
  }

  it('runs the activity monitor in a started n8n: task events on aiproc.events become a performance.reported that the feedback function stores', async () => {
    const rabbit = await rabbitVhost();
    const bus = await AmqpBus.start({ url: rabbit.url, log: pino({ level: 'silent' }), instance: 'n8n-test', models: ['codellama-7b'], retryDelayMs: 10, eventKeys: null });
    let n8nProcess: Awaited<ReturnType<typeof startN8n>> | undefined;
    try {
      const reported = new Promise<{ headers: IncomingHttpHeaders; status: number; body: string }>((resolve) => {
        feedbackListeners.push((call) => {
          if (call.headers['ce-source'] === 'n8n/activity-monitor') resolve(call);
        });
      });
      await prepareMonitor(rabbit.vhost, rabbit.url, feedbackUrl);
      for (const ev of taskEvents('codellama-7b')) await bus.publish(ev);
      n8nProcess = await startN8n(240_000);

      // Over HTTP with the feedback token (the feedback queue takes only signed events).
      const call = await Promise.race([reported, n8nProcess.gaveUp]);
      assert.equal(call.status, 202, call.body);
      assert.equal(call.headers['ce-type'], EventTypes.performanceReported);
      assert.equal(call.headers.authorization, `Bearer ${feedbackToken}`);
      const data = JSON.parse(call.body) as { model: string; figures: Record<string, number> };
      assert.equal(data.model, 'codellama-7b');
      assert.deepEqual({ tasks: data.figures.tasks, failures: data.figures.failures }, { tasks: 5, failures: 2 });
    } finally {
      await n8nProcess?.stop();
      await bus.close();
      await rabbit.drop();
    }
  });

  it('runs the error workflow when the activity monitor fails: a log line and a performance.reported over HTTP', async () => {
    // The monitor's report goes to a port nobody listens on: it cannot be sent, its execution fails.
    const rabbit = await rabbitVhost();
    let n8nProcess: Awaited<ReturnType<typeof startN8n>> | undefined;
    try {
      await prepareMonitor(rabbit.vhost, rabbit.url, `http://127.0.0.1:${await freePort()}/`);
      const errorWf = await importPatched('error-workflow.json', { feedbackUrl });
      const published = await n8n('publish:workflow', `--id=${errorWf.id}`);
      assert.equal(published.code, 0, published.out.slice(-4000));

      const reported = new Promise<{ headers: IncomingHttpHeaders; status: number; body: string }>((resolve) => {
        feedbackListeners.push((call) => {
          if (call.headers['ce-source'] === 'n8n/error-workflow') resolve(call);
        });
      });
      const conn = await amqp.connect(rabbit.url);
      const ch = await conn.createConfirmChannel();
      for (const ev of taskEvents('codellama-34b')) {
        const { content, properties } = encode(ev);
        ch.publish('aiproc.events', ev.type, content, properties);
      }
      await ch.waitForConfirms();
      await conn.close();
      n8nProcess = await startN8n(240_000);

      const call = await Promise.race([reported, n8nProcess.gaveUp]);
      assert.equal(call.status, 202);
      assert.equal(call.headers['ce-type'], 'dev.aiproc.performance.reported');
      assert.equal(call.headers.authorization, `Bearer ${feedbackToken}`);
      assert.match(n8nProcess.output(), /aiproc: n8n workflow "aiproc: activity monitor[^"]*" failed at node "performance\.reported to the feedback function"/);
    } finally {
      await n8nProcess?.stop();
      await rabbit.drop();
    }
  });
});
