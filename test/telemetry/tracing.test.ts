import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { assertJobTrace, askForJobTrace } from '../support/job-trace.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { startScriptedOllama, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { waitFor } from '../support/wait.ts';

describe('traces from npm start to an OTLP/HTTP (http/json) receiver', () => {
  let ollama: ScriptedOllama;
  let otlp: OtlpReceiver;
  let app: AiprocProcess;

  before(async () => {
    ollama = await startScriptedOllama(pipelineScript);
    otlp = await startOtlpReceiver();
    app = await startAiproc({
      OLLAMA_HOST: ollama.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      LOG_LEVEL: 'info',
    });
  });
  after(async () => {
    await app?.stop();
    await otlp?.close();
    await ollama?.close();
  });

  test('a job split in three is one trace, parented across every queue hop, with GenAI model-call spans', async () => {
    const jobId = await askForJobTrace(app.url, otlp);
    const spans = assertJobTrace(otlp.spans, jobId, 3);
    // npm start is one process: one service for every span.
    assert.deepEqual([...new Set(spans.map((s) => s.service))], ['aiproc']);
    assert.ok(otlp.contentTypes.every((t) => t.startsWith('application/json')), otlp.contentTypes.join(', '));
  });

  test('log lines carry the trace id of the job they belong to', async () => {
    // A part that fails is retried, with a warning logged while the job's trace is current.
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'Two topics with FAIL.' }] }),
    });
    const jobId = res.headers.get('x-request-id')!;
    await res.text();
    await waitFor('the request span to be exported', () => otlp.spans.some((s) => s.kind === 2 && s.attributes['aiproc.job.id'] === jobId), 20_000);
    const root = otlp.spans.find((s) => s.kind === 2 && s.attributes['aiproc.job.id'] === jobId)!;
    const lines = app.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; trace_id?: string; span_id?: string });
    const retries = lines.filter((l) => l.msg === 'delivery failed; retrying');
    assert.ok(retries.length > 0, 'the failing part was retried');
    for (const l of retries) {
      assert.equal(l.trace_id, root.traceId, 'the warning names the job\'s trace');
      assert.match(l.span_id ?? '', /^[0-9a-f]{16}$/);
    }
  });
});
