/**
 * `npm run bench:cluster`: end-to-end parts per second through `npm run cluster` with an
 * instant scripted model, against the raw amqplib publish→consume rate on the same broker, in
 * the same run; plus the latency each part gains from the pipeline (everything but the model).
 *
 * Uses a private vhost on the local RabbitMQ and a private Postgres (fsync on) it starts itself.
 * Settings: BENCH_JOBS (default 200), BENCH_CONCURRENCY (requests in flight, default 50),
 * BENCH_SEQUENTIAL (jobs run one by one for latency, default 30), BENCH_RAW (raw messages, default 20000).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { AmqpBus, workQueueArgs } from '../functions/lib/bus/amqp/index.ts';
import { EventTypes, type AnyEvent } from '../functions/lib/events/index.ts';
import { createVhost, testLog } from '../test/bus/amqp-support.ts';
import { ROOT, startCluster, startPrivatePostgres } from '../test/cluster/support.ts';
import { roleOf, startScriptedOllama, type ReceivedChat } from '../test/support/scripted-ollama.ts';
import { testEventKeys } from '../test/support/event-keys.ts';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 200);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 50);
const SEQUENTIAL = Number(process.env['BENCH_SEQUENTIAL'] ?? 30);
const RAW = Number(process.env['BENCH_RAW'] ?? 20_000);
const PARTS = 3;
const SLUGS = ['codellama-7b', 'codellama-34b', 'codellama-70b'];

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

/** The ceiling: persistent messages through a quorum queue like ours, published under confirm, consumed with acks. */
async function rawRate(url: string): Promise<{ perSecond: number; rttP50: number; rttP99: number }> {
  const conn = await amqp.connect(url, { noDelay: true }); // as the bus connects
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  const q = 'bench.raw';
  await pub.assertQueue(q, { durable: true, arguments: { ...workQueueArgs } });
  await sub.prefetch(100);
  const body = Buffer.from(JSON.stringify({ filler: 'x'.repeat(300) }));
  // Throughput: everything in flight, as the pipeline has it.
  let got = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const { consumerTag } = await sub.consume(q, (m) => {
    if (!m) return;
    sub.ack(m);
    if (++got === RAW) done();
  });
  const t0 = performance.now();
  for (let i = 0; i < RAW; i++) {
    if (!pub.publish('', q, body, { persistent: true })) await new Promise((r) => pub.once('drain', r));
  }
  await pub.waitForConfirms();
  await finished;
  const perSecond = RAW / ((performance.now() - t0) / 1000);
  await sub.cancel(consumerTag);
  // Round trip of one message at a time: publish (confirmed) → consumed.
  const rtts: number[] = [];
  let arrived: () => void = () => {};
  await sub.consume(q, (m) => {
    if (!m) return;
    sub.ack(m);
    arrived();
  });
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    const seen = new Promise<void>((r) => (arrived = r));
    pub.publish('', q, body, { persistent: true });
    await Promise.all([pub.waitForConfirms(), seen]);
    rtts.push(performance.now() - t);
  }
  await conn.close();
  return { perSecond, rttP50: pct(rtts, 50), rttP99: pct(rtts, 99) };
}

function instant(req: ReceivedChat) {
  const role = roleOf(req);
  const user = req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
  if (role === 'planner') {
    const tag = /job (\S+)/.exec(user)?.[1] ?? 'x';
    return { content: JSON.stringify({ parts: SLUGS.map((model, i) => ({ title: `Part ${i}`, prompt: `${tag} part ${i}`, model })) }), chunks: 1 };
  }
  if (role === 'merger') return { content: 'MERGED', chunks: 1 };
  return { content: `answer(${user})`, chunks: 1 };
}

async function run(): Promise<void> {
  const vh = await createVhost('bench');
  const db = await startPrivatePostgres({ fsync: true });
  const ollama = await startScriptedOllama(instant);
  const tmp = mkdtempSync(join(tmpdir(), 'aiproc-bench-'));
  let cluster: Awaited<ReturnType<typeof startCluster>> | undefined;
  let observer: AmqpBus | undefined;
  try {
    process.stdout.write('raw amqplib publish→consume …\n');
    const raw = await rawRate(vh.url);

    const cfg = JSON.parse(readFileSync(join(ROOT, 'models.json'), 'utf8')) as { models: Array<{ scaling: { concurrency: number } }> };
    for (const m of cfg.models) m.scaling.concurrency = 8;
    writeFileSync(join(tmp, 'models.json'), JSON.stringify(cfg));
    process.stdout.write('starting the cluster …\n');
    cluster = await startCluster({ AMQP_URL: vh.url, DATABASE_URL: db.url, OLLAMA_HOST: ollama.url, AIPROC_MODELS_FILE: join(tmp, 'models.json'), AIPROC_DATA_DIR: tmp });

    // Per part: when it was requested and when its result was published (both as the events topic saw them).
    const requested = new Map<string, number>();
    const added: number[] = [];
    observer = await AmqpBus.start({ url: vh.url, log: testLog, instance: 'bench-observer', models: SLUGS, eventKeys: testEventKeys });
    await observer.watch('dev.aiproc.task.*', (e: AnyEvent) => {
      if (e.type === EventTypes.taskRequested) requested.set(`${e.data.jobId}#${e.data.part.index}`, Date.parse(e.time));
      if (e.type === EventTypes.taskCompleted) {
        const t0 = requested.get(`${e.data.jobId}#${e.data.index}`);
        const model = Date.parse(e.data.finishedAt) - Date.parse(e.data.startedAt);
        if (t0 !== undefined) added.push(Date.parse(e.time) - t0 - model);
      }
    });
    const ask = async (tag: string) => {
      const res = await fetch(`${cluster!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: `job ${tag} parts=${PARTS}` }] }),
      });
      if (res.status !== 200) throw new Error(`job ${tag}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };

    for (let i = 0; i < 10; i++) await ask(`warm${i}`); // connections, JIT, caches
    process.stdout.write(`latency: ${SEQUENTIAL} jobs one at a time …\n`);
    added.length = 0;
    const jobMs: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t = performance.now();
      await ask(`seq${i}`);
      jobMs.push(performance.now() - t);
    }
    const latency = [...added];

    process.stdout.write(`throughput: ${JOBS} jobs × ${PARTS} parts, ${CONCURRENCY} in flight …\n`);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < JOBS) await ask(`load${next++}`);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const partsPerSecond = (JOBS * PARTS) / seconds;

    const ratio = partsPerSecond / raw.perSecond;
    const rows = [
      ['raw amqplib publish→consume (quorum, persistent, confirms)', `${raw.perSecond.toFixed(0)} msg/s`],
      ['raw round trip of one message, p50 / p99', `${raw.rttP50.toFixed(2)} / ${raw.rttP99.toFixed(2)} ms`],
      [`cluster end-to-end (${JOBS} jobs × ${PARTS} parts, ${CONCURRENCY} in flight)`, `${partsPerSecond.toFixed(1)} parts/s (${(JOBS / seconds).toFixed(1)} jobs/s)`],
      ['ratio cluster / raw (target ≥ 0.25)', ratio.toFixed(4)],
      ['added latency per part (requested → result published, minus model), p50 / p99', `${pct(latency, 50)} / ${pct(latency, 99)} ms`],
      ['whole job, one at a time (plan + 3 parts + merge, instant model), p50 / p99', `${pct(jobMs, 50).toFixed(0)} / ${pct(jobMs, 99).toFixed(0)} ms`],
    ];
    process.stdout.write('\n' + rows.map(([k, v]) => `${k!.padEnd(82)} ${v}`).join('\n') + '\n');
    process.stdout.write(
      JSON.stringify({ raw, cluster: { jobs: JOBS, parts: JOBS * PARTS, seconds, partsPerSecond }, ratio, addedLatencyMs: { p50: pct(latency, 50), p99: pct(latency, 99), samples: latency.length }, jobMs: { p50: pct(jobMs, 50), p99: pct(jobMs, 99) } }) + '\n',
    );
  } finally {
    await observer?.close();
    await cluster?.stop();
    await ollama.close();
    await db.stop();
    await vh.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`bench:cluster failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
