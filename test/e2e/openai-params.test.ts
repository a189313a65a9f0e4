import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { waitFor } from '../support/wait.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply, type ScriptedOllama } from '../support/scripted-ollama.ts';

/**
 * The scripted models for these tests: pipelineScript, plus answers keyed on the question:
 * "weather" → a tool call (or, after the tool's result, an answer using it); "broken tool" → a
 * call with arguments that are not JSON; "json please" → a JSON object.
 */
function script(req: ReceivedChat): Reply {
  const user = req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
  if (roleOf(req) === 'part') {
    const result = req.messages.find((m) => m.role === 'tool');
    if (result) return { content: `It is ${result.content} in Paris.` };
    if (/weather/.test(user) && req.tools?.length) return { content: '', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] };
    if (/broken tool/.test(user)) return { content: 'Let me look.', toolCalls: [{ name: 'get_weather', arguments: '{"city": Par' }] };
    if (/json please/.test(user)) return { content: '{"city":"Paris","celsius":21}' };
  }
  return pipelineScript(req);
}

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

const post = (url: string, body: unknown) => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const hi = [{ role: 'user', content: 'hi' }];

describe('the OpenAI API honoured through npm start and the openai client', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess;
  let client: OpenAI;
  const since = (n: number) => ollama.received.slice(n);

  before(async () => {
    // codellama-34b sees images; codellama-70b's template has no tools.
    ollama = await startScriptedOllama(script, undefined, {
      'codellama:34b-instruct': ['completion', 'tools', 'vision'],
      'codellama:70b-instruct': ['completion'],
    });
    app = await startAiproc({ OLLAMA_HOST: ollama.url });
    client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
  });

  test('every sampling parameter reaches the model as its Ollama option', async () => {
    const n = ollama.received.length;
    await client.chat.completions.create({
      model: 'codellama-7b',
      messages: [{ role: 'user', content: 'sample me' }],
      temperature: 0.3,
      top_p: 0.8,
      stop: ['END', 'STOP'],
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      max_completion_tokens: 77,
      // OpenWebUI's advanced parameters, top-level on an OpenAI connection
      ...({ top_k: 20, min_p: 0.05, repeat_penalty: 1.2, repeat_last_n: 32 } as object),
    });
    const [call] = since(n);
    assert.deepEqual(call!.options, {
      num_predict: 77,
      temperature: 0.3,
      top_p: 0.8,
      top_k: 20,
      min_p: 0.05,
      stop: ['END', 'STOP'],
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      repeat_penalty: 1.2,
      repeat_last_n: 32,
    });
    const m = ollama.received.length;
    await client.chat.completions.create({ model: 'codellama-7b', messages: [{ role: 'user', content: 'old name' }], max_tokens: 12, stop: 'X' });
    assert.deepEqual(since(m)[0]!.options, { num_predict: 12, stop: ['X'] });
  });

  test('on a split job the system prompt is in every model call, and sampling shapes the parts and the merger but not the planner', async () => {
    // Stitched (the default: the merger writes the joins) and rewritten (the merger writes it all).
    for (const synthesis of ['stitch', 'rewrite']) {
      const n = ollama.received.length;
      const res = await client.chat.completions.create(
        {
          model: 'aiproc',
          messages: [
            { role: 'system', content: 'Always answer in French.' },
            { role: 'user', content: 'Tell me about three topics.' },
          ],
          top_p: 0.7,
          seed: 7,
        },
        { headers: { 'X-Aiproc-Synthesis': synthesis } },
      );
      if (synthesis === 'rewrite') assert.equal(res.choices[0]!.message.content, 'MERGED[3 sections]');
      else assert.match(res.choices[0]!.message.content!, /answer\(Explain alpha\.\)[\s\S]*answer\(Explain gamma\.\)/);
      const calls = since(n);
      const roles = calls.map(roleOf);
      assert.equal(roles.filter((r) => r === 'planner').length, 1, synthesis);
      assert.equal(roles.filter((r) => r === 'part').length, 3, synthesis);
      assert.ok(roles.filter((r) => r === 'merger').length >= 1, `${synthesis}: the merger wrote something`);
      for (const c of calls) {
        const system = c.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
        assert.match(system, /Always answer in French\./, `${synthesis}: ${roleOf(c)} saw the system prompt`);
        if (roleOf(c) === 'planner') {
          assert.match(system, /Keep its constraints/);
          assert.equal(c.options?.top_p, undefined, 'the planner keeps its own settings');
          assert.equal(c.options?.temperature, 0);
        } else {
          assert.equal(c.options?.top_p, 0.7, `${synthesis}: ${roleOf(c)} got top_p`);
          assert.equal(c.options?.seed, 7);
        }
      }
    }
  });

  test('response_format json_object → format "json"; json_schema → the schema as format; the answer comes back as sent', async () => {
    const n = ollama.received.length;
    const a = await client.chat.completions.create({ model: 'codellama-7b', messages: [{ role: 'user', content: 'json please' }], response_format: { type: 'json_object' } });
    assert.deepEqual(JSON.parse(a.choices[0]!.message.content!), { city: 'Paris', celsius: 21 });
    assert.equal(since(n)[0]!.format, 'json');
    const schema = { type: 'object', properties: { city: { type: 'string' }, celsius: { type: 'number' } }, required: ['city', 'celsius'], additionalProperties: false };
    const m = ollama.received.length;
    const stream = await client.chat.completions.create({
      model: 'codellama-7b',
      stream: true,
      messages: [{ role: 'user', content: 'json please' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } },
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.deepEqual(JSON.parse(text), { city: 'Paris', celsius: 21 });
    assert.deepEqual(since(m)[0]!.format, schema);
  });

  test('an answer that breaks the schema fails the job saying so', async () => {
    const schema = { type: 'object', properties: { kelvin: { type: 'number' } }, required: ['kelvin'] };
    const err = await client.chat.completions
      .create({ model: 'codellama-7b', messages: [{ role: 'user', content: 'json please' }], response_format: { type: 'json_schema', json_schema: { name: 'k', schema } } })
      .then(() => undefined, (e: unknown) => e as { status: number; message: string });
    assert.ok(err, 'the request failed');
    assert.match(err.message, /does not follow response_format: .*kelvin/);
  });

  test('on aiproc a structured-output request is answered in one part, with the format, and no merge', async () => {
    const n = ollama.received.length;
    const res = await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: 'three topics, json please' }], response_format: { type: 'json_object' } });
    assert.deepEqual(JSON.parse(res.choices[0]!.message.content!), { city: 'Paris', celsius: 21 });
    const calls = since(n);
    assert.deepEqual(calls.map(roleOf), ['planner', 'part']);
    assert.equal(calls[1]!.format, 'json');
  });

  test('a tool call comes back in OpenAI shape, and its result turn reaches the model', async () => {
    const n = ollama.received.length;
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const first = await client.chat.completions.create({ model: 'codellama-7b', messages, tools: [weatherTool] });
    const choice = first.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.match(call.id, /^call_/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.deepEqual(since(n)[0]!.tools, [{ type: 'function', function: weatherTool.function }]);
    // the job record keeps the call with its part, as the client got it
    const job = (await (await fetch(`${app.url}/v1/jobs/${first.id}`)).json()) as { parts: { toolCalls: unknown }[] };
    assert.deepEqual(job.parts[0]!.toolCalls, [{ id: call.id, name: 'get_weather', arguments: call.function.arguments }]);

    const m = ollama.received.length;
    const second = await client.chat.completions.create({
      model: 'codellama-7b',
      tools: [weatherTool],
      messages: [...messages, choice.message, { role: 'tool', tool_call_id: call.id, content: '21 °C' }],
    });
    assert.equal(second.choices[0]!.message.content, 'It is 21 °C in Paris.');
    assert.equal(second.choices[0]!.finish_reason, 'stop');
    const got = since(m)[0]!.messages;
    assert.deepEqual(got.find((x) => x.role === 'assistant')?.tool_calls, [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
    assert.deepEqual(got.at(-1), { role: 'tool', content: '21 °C', tool_name: 'get_weather' });
  });

  test('a tool call streams as OpenAI streams it, on aiproc too (one part, with the tools)', async () => {
    for (const model of ['codellama-7b', 'aiproc']) {
      const n = ollama.received.length;
      const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'weather in Paris, streamed' }], tools: [weatherTool] });
      const calls: { index: number; id?: string; name?: string; args: string }[] = [];
      let finish: string | null = null;
      for await (const c of stream) {
        for (const d of c.choices[0]?.delta?.tool_calls ?? []) {
          const slot = (calls[d.index] ??= { index: d.index, args: '' });
          if (d.id) slot.id = d.id;
          if (d.function?.name) slot.name = d.function.name;
          slot.args += d.function?.arguments ?? '';
        }
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(finish, 'tool_calls', model);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.name, 'get_weather');
      assert.ok(calls[0]!.id);
      assert.deepEqual(JSON.parse(calls[0]!.args), { city: 'Paris' });
      const parts = since(n).filter((c) => roleOf(c) === 'part');
      assert.equal(parts.length, 1, `${model}: one part`);
      assert.equal(parts[0]!.tools?.[0]?.function.name, 'get_weather');
      assert.equal(since(n).filter((c) => roleOf(c) === 'merger').length, 0);
      // aiproc routes tools only to a model that has them: never codellama-70b
      assert.notEqual(parts[0]!.model, 'codellama:70b-instruct');
    }
  });

  test('malformed tool arguments from a model reach the client as its raw text, with a warning, not a crash', async () => {
    const res = await client.chat.completions.create({ model: 'codellama-7b', messages: [{ role: 'user', content: 'broken tool' }], tools: [weatherTool] });
    const msg = res.choices[0]!.message;
    assert.equal(msg.tool_calls, undefined);
    assert.equal(res.choices[0]!.finish_reason, 'stop');
    assert.match(msg.content!, /^Let me look\.\n\{"name":"get_weather"\}: \{"city": Par$/);
    // The warning is the other process's log line: it may arrive after the answer.
    await waitFor('the warning about malformed tool arguments', () => /malformed arguments/.test(app.stdout() + app.stderr()));
  });

  test('images go to a vision model as Ollama images; a model without vision is refused', async () => {
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    const n = ollama.received.length;
    await client.chat.completions.create({ model: 'aiproc', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, image] }] });
    const part = since(n).find((c) => roleOf(c) === 'part')!;
    assert.equal(part.model, 'codellama:34b-instruct');
    assert.deepEqual(part.messages.at(-1)!.images, ['iVBORw0KGgo=']);
    const res = await post(app.url, { model: 'codellama-7b', messages: [{ role: 'user', content: [image] }] });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string; param: string } };
    assert.equal(body.error.param, 'messages');
    assert.match(body.error.message, /codellama-7b does not support images/);
  });

  const refused: Array<[string, unknown, string, RegExp]> = [
    ['n > 1', { n: 2 }, 'n', /only one choice/],
    ['logprobs', { logprobs: true }, 'logprobs', /not supported/],
    ['logit_bias', { logit_bias: { '42': 5 } }, 'logit_bias', /not supported/],
    ['an unknown field', { frobnicate: true }, 'frobnicate', /unknown parameter; aiproc supports model, messages/],
    ['the functions API', { functions: [{ name: 'f' }] }, 'functions', /use tools/],
    ['reasoning_effort', { reasoning_effort: 'high' }, 'reasoning_effort', /not supported|cannot be set/],
    ["OpenWebUI's num_ctx", { num_ctx: 8192 }, 'num_ctx', /model server/],
    ['audio output', { modalities: ['text', 'audio'] }, 'modalities', /only text/],
    ['a text part whose text is not a string', { messages: [{ role: 'user', content: [{ type: 'text', text: 42 }] }] }, 'messages[0].content[0].text', /text/],
    ['an audio part', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }, 'messages[0].content[0].type', /"input_audio" parts are not supported/],
    ['an unknown message field', { messages: [{ role: 'user', content: 'hi', mood: 'happy' }] }, 'messages[0].mood', /unknown field/],
    ['tool_choice naming a missing tool', { tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_time' } } }, 'tool_choice', /no tool named "get_time"/],
    ['tool_choice without tools', { tool_choice: 'required' }, 'tool_choice', /needs tools/],
    [
      'a tool message without a matching call',
      { messages: [{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'call_nope', content: '1' }] },
      'messages[1].tool_call_id',
      /no earlier assistant message made a tool call with id "call_nope"/,
    ],
    ['a json_schema that is not a schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nope' } } } }, 'response_format.json_schema.schema', /not a valid JSON schema/],
    ['a response_format type that does not exist', { response_format: { type: 'yaml' } }, 'response_format.type', /json_object/],
    ['tools to a model whose template has none', { model: 'codellama-70b', tools: [weatherTool] }, 'tools', /codellama-70b does not support tool calling/],
    ['an image part without its image', { messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages[0].content[0].image_url', /expected object/i],
    ['a remote image URL', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'messages[0].content[0].image_url.url', /data: URLs/],
  ];
  for (const [name, extra, param, message] of refused) {
    test(`refused by name: ${name}`, async () => {
      const res = await post(app.url, { model: 'codellama-7b', messages: hi, ...(extra as object) });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: { message: string; param: string; type: string } };
      assert.equal(body.error.type, 'invalid_request_error');
      assert.equal(body.error.param, param);
      assert.match(body.error.message, message);
    });
  }

  test('what OpenWebUI 0.12.4 sends to an OpenAI connection is accepted (n: 1, empty logit_bias and nulls too)', async () => {
    const res = await post(app.url, {
      model: 'aiproc',
      stream: false,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }], reasoning_content: 'thinking…' },
        { role: 'tool', tool_call_id: 'call_1', content: '21 °C' },
      ],
      tools: [weatherTool],
      n: 1,
      logit_bias: {},
      seed: null,
      user: 'someone',
      parallel_tool_calls: true,
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]!.message.content, 'It is 21 °C in Paris.');
  });
});
