import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FeedbackRatedSchema, PerformanceReportedSchema, RuleProposedSchema } from '../../functions/lib/events/index.ts';
import { completion, parseChatRequest } from '../../functions/lib/http/openai.ts';

/** The n8n workflow files, parsed. */
const dir = join(import.meta.dirname, '../../n8n');
interface N8nNode { id: string; name: string; type: string; typeVersion: number; parameters: Record<string, unknown>; credentials?: Record<string, { id: string; name: string }> }
interface Workflow { id: string; name: string; nodes: N8nNode[]; connections: Record<string, { main: Array<Array<{ node: string }>> }>; settings: Record<string, unknown> }
const workflows = new Map<string, Workflow>(
  readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Workflow]),
);
const wf = (file: string) => workflows.get(file) ?? assert.fail(`n8n/${file} is missing`);
const code = (file: string, node: string) => {
  const n = wf(file).nodes.find((x) => x.name === node) ?? assert.fail(`${file} has no node "${node}"`);
  return String(n.parameters.jsCode);
};

type Item = { json: Record<string, any> };
/** Runs a Code node's JavaScript as n8n does (an async function body), with the globals it uses. */
async function runCode(js: string, input: unknown[], opts: { nodes?: Record<string, unknown>; staticData?: Record<string, any>; executionId?: string } = {}): Promise<Item[]> {
  const staticData = opts.staticData ?? {};
  const $input = { all: () => input.map((json) => ({ json })), first: () => ({ json: input[0] }) };
  const $ = (name: string) => {
    if (!(name in (opts.nodes ?? {}))) throw new Error(`the code reads node "${name}", which the test did not provide`);
    // A node given as an array has those items; anything else is its one item.
    const items = [opts.nodes![name]].flat().map((json) => ({ json }));
    return { first: () => items[0], all: () => items };
  };
  const fn = new Function('$input', '$', '$getWorkflowStaticData', '$execution', `return (async () => {\n${js}\n})();`);
  return fn($input, $, () => staticData, { id: opts.executionId ?? '42' });
}

describe('n8n workflow files', () => {
  it('are the four workflows, each well-formed, with credentials by reference only', () => {
    assert.deepEqual([...workflows.keys()].sort(), ['activity-monitor.json', 'error-workflow.json', 'feedback-sync.json', 'rule-drafting.json']);
    const ids = new Set<string>();
    for (const [file, w] of workflows) {
      assert.match(w.id, /^[A-Za-z0-9]{16}$/, `${file}: a fixed 16-character id, so execute --id and errorWorkflow can name it`);
      assert.ok(!ids.has(w.id), `${file}: duplicate id`);
      ids.add(w.id);
      const names = new Set(w.nodes.map((n) => n.name));
      assert.equal(names.size, w.nodes.length, `${file}: node names are unique`);
      for (const [from, out] of Object.entries(w.connections)) {
        assert.ok(names.has(from), `${file}: connection from unknown node ${from}`);
        for (const c of out.main.flat()) assert.ok(names.has(c.node), `${file}: connection to unknown node ${c.node}`);
      }
      for (const n of w.nodes) {
        for (const [type, ref] of Object.entries(n.credentials ?? {})) {
          assert.deepEqual(Object.keys(ref).sort(), ['id', 'name'], `${file}/${n.name}: credential ${type} by id and name only`);
        }
        if (n.type === 'n8n-nodes-base.code') assert.doesNotThrow(() => new Function(`return (async () => {\n${String(n.parameters.jsCode)}\n})`), `${file}/${n.name}: JavaScript parses`);
      }
      assert.doesNotMatch(JSON.stringify(w), /whsec_|"password"|Bearer [A-Za-z0-9]/, `${file}: no secrets in the file`);
      if (file !== 'error-workflow.json') assert.equal(w.settings.errorWorkflow, wf('error-workflow.json').id, `${file}: failures go to the error workflow`);
    }
  });

  it('feedback sync turns OpenWebUI ratings into valid feedback.rated events', async () => {
    const now = Math.floor(Date.now() / 1000);
    const records = [
      { id: 'f1', user_id: 'u1', type: 'rating', data: { rating: 1, model_id: 'aiproc', reason: 'accurate_information', comment: 'great' }, meta: { chat_id: 'c1', message_id: 'm1' }, created_at: now, updated_at: now },
      { id: 'f2', user_id: 'u1', type: 'rating', data: { rating: -1, model_id: 'aiproc' }, meta: { chat_id: 'c2', message_id: 'm2' }, created_at: now, updated_at: now },
      { id: 'f3', user_id: 'u2', type: 'rating', data: { rating: 1, details: { rating: 7 }, model_id: 'aiproc' }, meta: { chat_id: 'c3', message_id: 'm3' }, created_at: now, updated_at: now },
      { id: 'f4', user_id: 'u2', type: 'rating', data: { rating: 1, model_id: 'llama3' }, meta: { chat_id: 'c4', message_id: 'm4' }, created_at: now, updated_at: now },
      { id: 'f5', user_id: 'u2', type: 'arena', data: { rating: 1 }, meta: { chat_id: 'c5' }, created_at: now, updated_at: now },
    ];
    // The HTTP nodes hand on the full response, the body as text (`data`).
    const response = (body: unknown, statusCode = 200) => ({ statusCode, data: typeof body === 'string' ? body : JSON.stringify(body) });
    const listed = records.map((f) => ({ id: f.id, updatedAt: f.updated_at }));
    const js = code('feedback-sync.json', 'Ratings as feedback.rated');
    const staticData: Record<string, any> = {};
    const out = await runCode(js, records.map((f) => response(f)), { nodes: { Settings: { models: 'aiproc' }, 'New since the cursor': listed }, staticData });
    assert.deepEqual(out.map((i) => i.json.id), ['openwebui-feedback-f1', 'openwebui-feedback-f2', 'openwebui-feedback-f3']);
    const data = out.map((i) => FeedbackRatedSchema.parse(i.json.data));
    assert.deepEqual(data.map((d) => d.rating), [{ thumbs: 'up' }, { thumbs: 'down' }, { score: 7 }]);
    assert.deepEqual(data[0], { rating: { thumbs: 'up' }, chatId: 'c1', messageId: 'm1', comment: 'accurate_information: great', user: 'u1' });
    assert.equal(staticData.cursor, undefined, 'the cursor moves only after the sends');
    // An empty models filter takes every model; a feedback deleted since it was listed (404) is skipped.
    const all = await runCode(js, [...records.map((f) => response(f)), response({ detail: 'Not Found' }, 404)], { nodes: { Settings: { models: '' }, 'New since the cursor': [...listed, { id: 'gone', updatedAt: now }] } });
    assert.equal(all.length, 4);
    await assert.rejects(runCode(js, [response('<!doctype html>')], { nodes: { Settings: { models: '' }, 'New since the cursor': listed.slice(0, 1) } }), /feedback\/f1 answered 200 without JSON/);
    // Nothing to send (an arena feedback only): the cursor moves past it at once.
    const none = await runCode(js, [response(records[4])], { nodes: { Settings: { models: '' }, 'New since the cursor': [listed[4]] }, staticData });
    assert.deepEqual([none, staticData.cursor], [[], { updatedAt: now, ids: ['f5'] }]);
  });

  it('feedback sync resumes from its cursor and fails loudly on a non-JSON answer', async () => {
    const select = code('feedback-sync.json', 'New since the cursor');
    const ids = (list: unknown, statusCode = 200) => [{ statusCode, data: typeof list === 'string' ? list : JSON.stringify(list) }];
    const list = [
      { id: 'b', user_id: 'u', created_at: 20, updated_at: 20 },
      { id: 'a', user_id: 'u', created_at: 20, updated_at: 20 },
      { id: 'old', user_id: 'u', created_at: 10, updated_at: 10 },
    ];
    // GIVEN the cursor says everything up to 20 s was synced, "a" at 20 s included
    const staticData = { cursor: { updatedAt: 20, ids: ['a'] } };
    const fresh = await runCode(select, ids(list), { staticData });
    assert.deepEqual(fresh.map((i) => i.json), [{ id: 'b', updatedAt: 20 }]);
    assert.deepEqual((await runCode(select, ids(list))).map((i) => i.json.id), ['old', 'a', 'b'], 'no cursor: everything, oldest first');
    await assert.rejects(runCode(select, ids('<!doctype html><html></html>')), /feedbacks\/all\/ids answered 200 without a JSON list \(<!doctype html>/);
    await assert.rejects(runCode(select, ids({ detail: 'Not authenticated' }, 401)), /answered 401/);

    const advance = code('feedback-sync.json', 'Advance the cursor');
    const sent = [{ json: { id: 'openwebui-feedback-b' } }, { json: { id: 'openwebui-feedback-c' } }].map((i) => i.json);
    const nodes = { 'New since the cursor': [{ id: 'b', updatedAt: 20 }, { id: 'c', updatedAt: 30 }], 'Ratings as feedback.rated': sent };
    // WHEN aiproc is down for one of them: the run fails, the cursor stays
    await assert.rejects(runCode(advance, [{ statusCode: 202, data: '{}' }, { statusCode: 503, data: 'down' }], { nodes, staticData }), /did not take 1 rating\(s\): openwebui-feedback-c → 503/);
    assert.deepEqual(staticData.cursor, { updatedAt: 20, ids: ['a'] });
    // THEN once every rating is taken or refused for good (400), it moves to the newest
    const done = await runCode(advance, [{ statusCode: 202, data: '{}' }, { statusCode: 400, data: 'no job' }], { nodes, staticData });
    assert.deepEqual(done[0]!.json, { sent: 1, refused: ['openwebui-feedback-c'] });
    assert.deepEqual(staticData.cursor, { updatedAt: 30, ids: ['c'] });
  });

  it('activity monitor reports a failing model once per window, as valid performance.reported data', async () => {
    const js = code('activity-monitor.json', 'Failures and slowness per model');
    const staticData: Record<string, any> = {};
    const msg = (type: string, data: Record<string, unknown>) => ({ fields: {}, properties: { headers: { 'ce-type': type } }, content: data });
    const t = new Date().toISOString();
    const done = msg('dev.aiproc.task.completed', { model: 'codellama-7b', startedAt: t, finishedAt: t });
    const failed = msg('dev.aiproc.task.failed', { model: 'codellama-7b', error: 'boom' });
    const reports: Item[] = [];
    for (const m of [done, done, done, failed, failed, failed]) reports.push(...(await runCode(js, [m], { staticData })));
    assert.equal(reports.length, 1, 'reported at the fifth task (2 of 5 failed), not again within the window');
    const d = PerformanceReportedSchema.parse(reports[0]!.json.data);
    assert.equal(d.model, 'codellama-7b');
    assert.deepEqual({ tasks: d.figures.tasks, failures: d.figures.failures }, { tasks: 5, failures: 2 });
    // Sent as a binary-mode CloudEvent to the feedback endpoint with the feedback token: the
    // feedback queue takes only events signed with AIPROC_EVENT_KEYS, which n8n does not hold.
    const monitor = wf('activity-monitor.json');
    assert.ok(!monitor.nodes.some((n) => n.type === 'n8n-nodes-base.rabbitmq'), 'nothing is published to a queue unsigned');
    const send = monitor.nodes.find((n) => n.type === 'n8n-nodes-base.httpRequest')!;
    assert.equal(send.parameters.url, 'http://splitter.aiproc.svc.cluster.local/v1/feedback');
    assert.equal(send.parameters.genericAuthType, 'httpBearerAuth');
    assert.equal((send.credentials as any).httpBearerAuth.id, 'aiprocFeedbackTk');
    const headers = Object.fromEntries((send.parameters.headerParameters as any).parameters.map((h: any) => [h.name, h.value]));
    assert.deepEqual(Object.keys(headers).sort(), ['ce-id', 'ce-model', 'ce-source', 'ce-specversion', 'ce-type']);
    assert.equal(headers['ce-type'], 'dev.aiproc.performance.reported');
  });

  it('rule drafting asks the planner about low ratings and proposes its rule inactive', async () => {
    const now = Math.floor(Date.now() / 1000);
    const select = code('rule-drafting.json', 'Low-rated answers');
    const settings = { plannerModel: 'codellama-7b', maxScore: 4, sinceHours: 24 };
    const none = await runCode(select, [{ id: 'a', type: 'rating', data: { rating: 1, comment: 'fine' }, updated_at: now }], { nodes: { Settings: settings } });
    assert.deepEqual(none, []);
    // The web app's HTML page (a wrong URL, another version) fails the run instead of reading as "no ratings".
    await assert.rejects(runCode(select, [{ data: '<!doctype html><html></html>' }], { nodes: { Settings: settings } }), /OpenWebUI answered no JSON/);
    const asked = await runCode(select, [
      { id: 'b', type: 'rating', data: { rating: -1, reason: 'too_verbose', comment: 'way too long', model_id: 'aiproc' }, updated_at: now },
      { id: 'c', type: 'rating', data: { rating: 1, details: { rating: 3 }, comment: 'missed the point' }, updated_at: now },
      { id: 'd', type: 'rating', data: { rating: -1, comment: 'old' }, updated_at: now - 3 * 86400 },
    ], { nodes: { Settings: settings } });
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.json.count, 2);
    const request = asked[0]!.json.request;
    assert.equal(request.model, 'codellama-7b');
    assert.match(request.messages[1].content, /way too long[\s\S]*missed the point/);
    // It is a request aiproc's own API takes (the parser of POST /v1/chat/completions), held to the schema.
    const parsed = parseChatRequest(request);
    assert.deepEqual(parsed.options.format && (parsed.options.format as { required: string[] }).required, ['scope', 'model', 'text', 'reason']);
    // It goes to aiproc with the aiproc API key, not to Ollama: the drafting node and its settings.
    const ask = wf('rule-drafting.json').nodes.find((n) => n.name === 'Planner drafts a rule')!;
    assert.equal(ask.parameters.url, "={{ $('Settings').first().json.draftUrl }}");
    assert.equal(ask.credentials?.httpBearerAuth?.name, 'aiproc API key');
    const names = (wf('rule-drafting.json').nodes.find((n) => n.name === 'Settings')!.parameters as { assignments: { assignments: Array<{ name: string; value: unknown }> } }).assignments.assignments;
    assert.equal(names.find((a) => a.name === 'draftUrl')?.value, 'http://splitter.aiproc.svc.cluster.local/v1/chat/completions');
    assert.equal(names.some((a) => /ollama/i.test(a.name)), false);

    // aiproc's answer (its own completion shape) becomes the proposal; an answer that is not JSON is dropped.
    const propose = code('rule-drafting.json', 'rule.proposed (inactive)');
    const answer = (content: string) => completion('job-1', 'codellama-7b', content, { promptTokens: 1, completionTokens: 1 });
    const drafted = await runCode(propose, [
      answer(JSON.stringify({ scope: 'merger', model: '*', text: 'Keep answers under 200 words.', reason: 'too verbose' })),
      answer('not json'),
    ]);
    assert.equal(drafted.length, 1);
    const rule = RuleProposedSchema.parse(drafted[0]!.json.data);
    assert.deepEqual({ scope: rule.scope, active: rule.active, origin: rule.origin }, { scope: 'merger', active: false, origin: 'n8n' });
  });

  it('rule drafting checks the drafted rule with the eval and puts the tally into the reason', async () => {
    const js = code('rule-drafting.json', 'Eval into the reason');
    const proposals = [
      { id: 'rule-draft-42-0', data: { scope: 'merger', model: '*', text: 'Be brief.', reason: 'too verbose', origin: 'n8n', active: false } },
      { id: 'rule-draft-42-1', data: { scope: 'planner', model: '*', text: 'Split less.', reason: 'slow', origin: 'n8n', active: false } },
    ];
    const tally = { object: 'eval.tally', questions: 6, wins: 3, ties: 2, losses: 1, invalidVerdicts: 1, failedAnswers: 0, judge: 'codellama-70b' };
    const out = await runCode(js, [tally, { error: { message: 'connect ECONNREFUSED 10.0.0.1:80' } }], { nodes: { 'rule.proposed (inactive)': proposals } });
    assert.equal(out.length, 2);
    const [checked, unchecked] = out.map((o) => RuleProposedSchema.parse(o.json.data));
    assert.equal(checked!.reason, 'too verbose\n\neval on 6 questions (judge codellama-70b): with the rule better 3, ties 2, worse 1 (1 judge replies were no verdict)');
    assert.equal(unchecked!.reason, 'slow\n\neval not available: connect ECONNREFUSED 10.0.0.1:80');
    assert.deepEqual(out.map((o) => [o.json.id, o.json.data.active]), [['rule-draft-42-0', false], ['rule-draft-42-1', false]]);
    assert.deepEqual(out[0]!.json.eval, { wins: 3, ties: 2, losses: 1, questions: 6 });

    // The check is asked with the drafted rule and the number of questions from Settings, and a
    // failed check does not stop the proposal.
    const check = wf('rule-drafting.json').nodes.find((n) => n.name === 'Check the rule (eval)')!;
    assert.equal((check as unknown as { onError?: string }).onError, 'continueRegularOutput');
    assert.match(String(check.parameters.jsonBody), /rule: \{ scope: \$json\.data\.scope, model: \$json\.data\.model, text: \$json\.data\.text \}/);
    assert.deepEqual(wf('rule-drafting.json').connections['rule.proposed (inactive)']!.main[0]!.map((c) => c.node), ['Check the rule (eval)']);
    assert.deepEqual(wf('rule-drafting.json').connections['Eval into the reason']!.main[0]!.map((c) => c.node), ['Send to feedback function']);
  });

  it('error workflow writes a log line and a valid performance.reported', async () => {
    const js = code('error-workflow.json', 'Log line and performance.reported');
    const trigger = { execution: { id: '7', error: { message: 'ECONNREFUSED' }, lastNodeExecuted: 'Fetch OpenWebUI feedback' }, workflow: { id: 'wf1', name: 'feedback sync' } };
    const logged: string[] = [];
    const original = console.log;
    console.log = (...a: unknown[]) => void logged.push(a.join(' '));
    let out: Item[];
    try {
      out = await runCode(js, [{}], { nodes: { 'Error Trigger': trigger } });
    } finally {
      console.log = original;
    }
    assert.match(logged.join('\n'), /feedback sync.*Fetch OpenWebUI feedback.*ECONNREFUSED/);
    const d = PerformanceReportedSchema.parse(out[0]!.json.data);
    assert.deepEqual(d.figures, { n8nWorkflowErrors: 1 });
    assert.equal(out[0]!.json.id, 'n8n-error-wf1-7');
  });
});
