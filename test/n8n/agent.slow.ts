/**
 * An n8n AI Agent using aiproc as its model (`npm run test:n8n`): the real n8n's OpenAI Chat Model
 * node pointed at `npm start`, one tool (Calculator), the scripted Ollama behind aiproc.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { ensureN8n, n8nBin, n8nEnv, run } from '../support/n8n.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'agent-with-tool.json');

/** The part model calls the first tool it is given with `6*7`, then answers with the tool's result. */
function script(req: ReceivedChat): Reply {
  if (roleOf(req) !== 'part') return pipelineScript(req);
  const result = req.messages.find((m) => m.role === 'tool');
  if (result) return { content: `6 times 7 is ${result.content}.` };
  const tool = req.tools?.[0];
  if (tool) return { content: '', toolCalls: [{ name: tool.function.name, arguments: { input: '6*7' } }] };
  return { content: 'I have no calculator.' };
}

describe('an n8n AI Agent with aiproc as its model', { timeout: 15 * 60_000 }, () => {
  const database = `aiproc_n8n_agent_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
  let userFolder: string;
  let env: NodeJS.ProcessEnv;
  let ollama: ScriptedOllama;
  let app: AiprocProcess;

  before(async () => {
    await ensureN8n();
    await admin.connect();
    await admin.query(`create database ${database}`);
    userFolder = await mkdtemp(join(tmpdir(), 'aiproc-n8n-agent-'));
    env = n8nEnv(userFolder, database, randomBytes(24).toString('hex'));
    ollama = await startScriptedOllama(script);
    app = await startAiproc({ OLLAMA_HOST: ollama.url });
  });
  after(async () => {
    await app?.stop();
    await ollama?.close();
    await admin.query(`drop database if exists ${database} with (force)`).catch(() => {});
    await admin.end();
    if (userFolder) await rm(userFolder, { recursive: true, force: true });
  });

  it('uses the tool through aiproc and returns the tool-informed answer', async () => {
    const wf = JSON.parse(readFileSync(fixture, 'utf8')) as { id: string; nodes: { credentials?: Record<string, { id: string; name: string }> }[] };
    const cred = wf.nodes.find((n) => n.credentials?.openAiApi)!.credentials!.openAiApi!;
    const creds = join(userFolder, 'credentials.json');
    await writeFile(creds, JSON.stringify([{ id: cred.id, name: cred.name, type: 'openAiApi', data: { apiKey: 'unused', url: `${app.url}/v1` } }]));
    for (const args of [['import:credentials', `--input=${creds}`], ['import:workflow', `--input=${fixture}`]]) {
      const r = await run(n8nBin, args, env, userFolder);
      assert.equal(r.code, 0, r.out.slice(-4000));
    }
    const r = await run(n8nBin, ['execute', `--id=${wf.id}`, '--rawOutput'], env, userFolder);
    assert.equal(r.code, 0, r.out.slice(-6000));
    // n8n hands the tool's output back as its item JSON ([{"response":"42"}]); the answer is built on it.
    assert.match(r.out, /"output":\s*"6 times 7 is .*42.*\."/, r.out.slice(-4000));

    const parts = ollama.received.filter((c) => roleOf(c) === 'part');
    assert.equal(parts.length, 2, 'one turn that calls the tool, one that uses its result');
    assert.equal(parts[0]!.tools?.[0]?.function.name, 'Calculator');
    assert.equal(parts[0]!.options?.temperature, 0.2, 'the node\'s temperature reached the model');
    const result = parts[1]!.messages.find((m) => m.role === 'tool')!;
    assert.match(result.content, /\b42\b/);
    assert.equal(result.tool_name, 'Calculator');
  });
});
