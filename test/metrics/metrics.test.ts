import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { count, scrape, value } from '../support/prometheus.ts';
import { startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';

const MODELS = ['codellama-7b', 'codellama-34b', 'codellama-70b'];

describe('GET /metrics on npm start', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess;

  before(async () => {
    ollama = await startScriptedOllama(pipelineScript);
    app = await startAiproc({ OLLAMA_HOST: ollama.url });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
  });

  test('parses as the Prometheus text format, with conventional names and help on every aiproc metric', async () => {
    const m = await scrape(app.url);
    const ours = m.families.filter((f) => f.name.startsWith('aiproc_'));
    assert.ok(ours.length >= 15, ours.map((f) => f.name).join(', '));
    for (const f of ours) {
      assert.ok(f.help.length > 10, `${f.name} has help`);
      if (f.type === 'COUNTER') assert.match(f.name, /_total$/, `${f.name}: counters end in _total`);
      if (/duration|time_to/.test(f.name)) assert.match(f.name, /_seconds$/, `${f.name}: durations are in seconds`);
    }
    assert.ok(m.families.some((f) => f.name === 'process_cpu_seconds_total'), 'process metrics are there too');
    // The queue of every model is read at scrape time, empty while nothing waits.
    for (const model of MODELS) assert.equal(value(m, 'aiproc_queue_depth', { model }), 0, model);
  });

  test('the counters move with a job split in three: jobs, parts per model, durations, model calls, tokens', async () => {
    const m0 = await scrape(app.url);
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'Tell me about three topics.' }], stream: true }),
    });
    assert.equal(res.status, 200);
    await res.text();
    const m1 = await scrape(app.url);
    const moved = (name: string, labels: Record<string, string> = {}, of = value) => of(m1, name, labels) - of(m0, name, labels);

    assert.equal(moved('aiproc_jobs_started_total', { model: 'aiproc' }), 1);
    assert.equal(moved('aiproc_jobs_finished_total', { model: 'aiproc', status: 'completed' }), 1);
    assert.equal(moved('aiproc_jobs_finished_total', { status: 'failed' }), 0);
    assert.equal(value(m1, 'aiproc_jobs_in_flight', { model: 'aiproc' }), 0, 'nothing left in flight');
    assert.equal(moved('aiproc_job_duration_seconds', { model: 'aiproc', status: 'completed' }, count), 1);
    for (const model of MODELS) {
      assert.equal(moved('aiproc_parts_finished_total', { model, status: 'completed' }), 1, model);
      assert.equal(moved('aiproc_part_duration_seconds', { model }, count), 1, model);
      assert.equal(value(m1, 'aiproc_parts_in_flight', { model }), 0, model);
    }
    // The planner, one part on each model, and the stitched synthesis (the default): the merger
    // model writes the opening and the closing, two calls.
    assert.equal(moved('aiproc_model_request_duration_seconds', { outcome: 'ok' }, count), 6);
    assert.ok(moved('aiproc_model_tokens_total', { type: 'input' }) > 0);
    assert.ok(moved('aiproc_model_tokens_total', { type: 'output' }) > 0);
    assert.ok(moved('aiproc_model_output_tokens_per_second', {}, count) >= 1);
    // The synthesis streams: its first token is timed.
    assert.ok(moved('aiproc_model_time_to_first_token_seconds', {}, count) >= 1);
    assert.equal(moved('aiproc_part_retries_total'), 0);
    assert.equal(moved('aiproc_dead_letters_total'), 0);
  });

  test('a failing part counts as failed, retried and dead-lettered; a rating is credited to the models and to the rule version', async () => {
    const m0 = await scrape(app.url);
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'Two topics with FAIL.' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const jobId = res.headers.get('x-request-id')!;
    await res.json();
    const rule = await fetch(`${app.url}/v1/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'inference', model: '*', text: 'Be brief.', active: true }),
    });
    assert.equal(rule.status, 201, await rule.clone().text());
    const ruleId = ((await rule.json()) as { ruleId: string }).ruleId;
    const rated = async (id: string, question: string, score: number) => {
      const r = await fetch(`${app.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: question }] }) });
      const job = r.headers.get('x-request-id')!;
      await r.json();
      const fb = await fetch(`${app.url}/v1/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'dev.aiproc.feedback.rated' },
        body: JSON.stringify({ jobId: job, rating: { score } }),
      });
      assert.equal(fb.status, 202, await fb.clone().text());
    };
    await rated('m-rating-1', 'One question under the rule.', 8);
    const m1 = await scrape(app.url);
    const moved = (name: string, labels: Record<string, string> = {}, of = value) => of(m1, name, labels) - of(m0, name, labels);

    assert.ok(jobId);
    assert.equal(moved('aiproc_parts_finished_total', { model: 'codellama-34b', status: 'failed' }), 1);
    assert.equal(moved('aiproc_parts_finished_total', { model: 'codellama-7b', status: 'completed' }), 1);
    assert.equal(moved('aiproc_dead_letters_total', { queue: 'aiproc.tasks.codellama-34b' }), 1);
    assert.equal(moved('aiproc_part_retries_total', { model: 'codellama-34b' }), 2, 'three attempts: two retries');
    assert.equal(moved('aiproc_model_request_duration_seconds', { model: 'codellama-34b', outcome: 'error' }, count), 3);
    // The rated job's one part ran on codellama-34b (the scripted planner's single part).
    assert.equal(moved('aiproc_ratings_total', { model: 'codellama-34b' }), 1);
    assert.equal(moved('aiproc_rating_score', { model: 'codellama-34b' }, count), 1);
    const labels = { rule: ruleId, version: '1', scope: 'inference', model: '*', active: 'true' };
    assert.equal(value(m1, 'aiproc_rule_jobs', labels), 1);
    assert.equal(value(m1, 'aiproc_rule_ratings', labels), 1);
    assert.equal(value(m1, 'aiproc_rule_rating_score_average', labels), 8);
  });
});
