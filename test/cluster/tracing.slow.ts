import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVhost } from '../bus/amqp-support.ts';
import { freshDatabase } from '../store/fresh-database.ts';
import { assertJobTrace, askForJobTrace } from '../support/job-trace.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { count, scrape, value } from '../support/prometheus.ts';
import { startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { startCluster, type ClusterProcess } from './support.ts';

/*
 * A job through `npm run cluster` (six processes joined by RabbitMQ) is one trace: the context
 * travels inside the events (the CloudEvents traceparent extension) across every queue hop, and
 * each process reports its own service.name.
 */
describe('one trace per job across npm run cluster\'s processes', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let mq: Awaited<ReturnType<typeof createVhost>>;
  let ollama: ScriptedOllama;
  let otlp: OtlpReceiver;
  let cluster: ClusterProcess;

  before(async () => {
    db = await freshDatabase();
    mq = await createVhost('cluster-tracing');
    ollama = await startScriptedOllama(pipelineScript);
    otlp = await startOtlpReceiver();
    cluster = await startCluster({
      AMQP_URL: mq.url,
      DATABASE_URL: db.url,
      OLLAMA_HOST: ollama.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
  });
  after(async () => {
    await cluster?.stop();
    await otlp?.close();
    await ollama?.close();
    await mq?.drop();
    await db?.drop();
  });

  /** Each role's /metrics, as the launcher printed it when the role was ready. */
  const metricsOf = () => new Map([...cluster.stdout().matchAll(/cluster: (\S+) ready .*, metrics at (http:\/\/\S+)\/metrics$/gm)].map((m) => [m[1]!, m[2]!]));

  test('spans from the splitter, each inference process and the merger form one trace, parented across the queues', async () => {
    const m0 = await scrape(cluster.url);
    const roles = metricsOf();
    const before = new Map(await Promise.all([...roles].map(async ([role, url]) => [role, await scrape(url)] as const)));
    const jobId = await askForJobTrace(cluster.url, otlp);
    const spans = assertJobTrace(otlp.spans, jobId, 3);
    const services = new Set(spans.map((s) => s.service));
    for (const s of ['aiproc-splitter', 'aiproc-merger', 'aiproc-inference-codellama-7b', 'aiproc-inference-codellama-34b', 'aiproc-inference-codellama-70b'])
      assert.ok(services.has(s), `${s} in ${[...services].join(', ')}`);
    for (const s of spans.filter((x) => x.name === 'process task.requested')) assert.equal(s.service, `aiproc-inference-${s.attributes['aiproc.model']}`);
    for (const s of spans.filter((x) => x.name === 'process task.completed')) assert.equal(s.service, 'aiproc-merger');

    // The splitter's /metrics moved with the job, and reads the queues from RabbitMQ.
    const m1 = await scrape(cluster.url);
    assert.equal(value(m1, 'aiproc_jobs_finished_total', { model: 'aiproc', status: 'completed' }) - value(m0, 'aiproc_jobs_finished_total', { model: 'aiproc', status: 'completed' }), 1);
    assert.equal(count(m1, 'aiproc_job_duration_seconds', { model: 'aiproc' }) - count(m0, 'aiproc_job_duration_seconds', { model: 'aiproc' }), 1);
    for (const model of ['codellama-7b', 'codellama-34b', 'codellama-70b']) assert.equal(value(m1, 'aiproc_queue_depth', { model }), 0, model);

    // Every other process serves its own /metrics (the launcher says where), and they moved too:
    // the merger recorded the three parts, each inference process called its own model.
    assert.deepEqual([...roles.keys()].sort(), ['feedback', 'inference-codellama-34b', 'inference-codellama-70b', 'inference-codellama-7b', 'merger', 'splitter']);
    const delta = async (role: string, name: string, labels: Record<string, string> = {}) => value(await scrape(roles.get(role)!), name, labels) - value(before.get(role)!, name, labels);
    const calls = async (role: string, model: string) => count(await scrape(roles.get(role)!), 'aiproc_model_request_duration_seconds', { model, outcome: 'ok' }) - count(before.get(role)!, 'aiproc_model_request_duration_seconds', { model, outcome: 'ok' });
    assert.equal(await delta('merger', 'aiproc_parts_finished_total', { status: 'completed' }), 3);
    for (const model of ['codellama-7b', 'codellama-34b', 'codellama-70b']) {
      assert.equal(await calls(`inference-${model}`, model), 1, `${model} counted its one call`);
      assert.equal(value(await scrape(roles.get(`inference-${model}`)!), 'aiproc_parts_finished_total'), 0, 'part results are the merger\'s');
    }
    assert.ok((await scrape(roles.get('feedback')!)).families.some((f) => f.name === 'process_cpu_seconds_total'), 'the feedback process answers too');
  });
});
