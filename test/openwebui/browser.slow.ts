/**
 * `npm run test:openwebui`: the real OpenWebUI (the version we deploy, from PyPI) in headless
 * Chromium (Debian's), connected to `npm start` exactly as the charts and docker-compose.yml
 * connect it, with a scripted Ollama-API model behind aiproc that also answers OpenWebUI's task
 * prompts; then the real n8n feedback sync of n8n/ against this OpenWebUI. Screenshots go to a
 * folder outside the repo (printed). Every wait is on a DOM state or an event, never a sleep.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { ensureN8n, importPatched, n8nBin, n8nEnv, run } from '../support/n8n.ts';
import { CHROMIUM, ensureChromium, ensureOpenWebUI, OPENWEBUI_VERSION, startOpenWebUI, type OpenWebUI } from '../support/openwebui.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type ScriptedOllama } from '../support/scripted-ollama.ts';
import { adminClient, freshDatabase } from '../store/fresh-database.ts';
import { waitFor } from '../support/wait.ts';

const QUESTION = 'What is a monad? And write a Python function to reverse a list.';
const SECOND = 'Why do we need monads? And write a Python function to sum a list.';
const TITLE = 'Monads and Python Lists';
const CODE = 'def reverse(xs):\n    return xs[::-1]';

/** Resolves when `open()` is called: the first part waits on it, so the test sees the reasoning block live. */
function gate() {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** The scripted models: the planner splits in two, parts answer (the code part with a code block), tasks get their JSON. */
function script(held: Promise<void>) {
  return async (req: ReceivedChat) => {
    const user = req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    if (user.startsWith('### Task:')) {
      if (/concise title/.test(user)) return { content: JSON.stringify({ title: TITLE }) };
      if (/broad tags/.test(user)) return { content: JSON.stringify({ tags: ['Programming'] }) };
      if (/follow_ups/.test(user)) return { content: JSON.stringify({ follow_ups: ['Show a monad in Haskell'] }) };
      return { content: '{}' };
    }
    const role = roleOf(req);
    if (role === 'planner') {
      const [q1, q2] = user.split(/(?<=\?) /);
      return { content: JSON.stringify({ parts: [{ title: 'Monads', prompt: q1, model: 'codellama-70b' }, { title: 'Python', prompt: q2, model: 'codellama-34b' }] }) };
    }
    const code = `Here it is:\n\n\`\`\`python\n${/sum/.test(user) ? 'def total(xs):\n    return sum(xs)' : CODE}\n\`\`\``;
    if (role === 'merger') return { content: `A monad chains computations.\n\n${code}`, chunks: 4 };
    if (/monad/i.test(user)) {
      await held;
      return { content: 'A monad chains computations that carry a context.', chunks: 3 };
    }
    return { content: code, chunks: 3 };
  };
}

describe(`OpenWebUI ${OPENWEBUI_VERSION} in a real browser, connected to aiproc as the README says`, { timeout: 30 * 60_000 }, () => {
  const held = gate();
  const feedbackToken = `fb-${randomUUID()}`;
  // OpenWebUI's key is a gateway key, as the charts and docker-compose.yml give it.
  const gatewayKey = `sk-gw-${randomUUID()}`;
  const shots = { dir: '' };
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: pg.Client;
  let ollama: ScriptedOllama;
  let aiproc: AiprocProcess & { dataDir: string };
  let owui: OpenWebUI;
  let owuiData: string;
  let browser: Browser;
  let page: Page;
  let token: string;
  let n8nFolder: string;
  let n8nDatabase: string;
  const owuiApi = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${owui.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as any;
  };
  const shot = async (name: string) => {
    const path = join(shots.dir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    process.stdout.write(`screenshot: ${path}\n`);
  };

  before(async () => {
    await Promise.all([ensureOpenWebUI(), ensureChromium(), ensureN8n()]);
    shots.dir = await mkdtemp(join(tmpdir(), 'aiproc-openwebui-shots-'));
    db = await freshDatabase();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    ollama = await startScriptedOllama(script(held.wait));
    aiproc = await startAiproc({ OLLAMA_HOST: ollama.url, DATABASE_URL: db.url, AIPROC_FEEDBACK_TOKENS: feedbackToken, AIPROC_GATEWAY_KEYS: `openwebui:${gatewayKey}` });
    owuiData = await mkdtemp(join(tmpdir(), 'aiproc-openwebui-data-'));
    owui = await startOpenWebUI({ splitterV1: `${aiproc.url}/v1`, key: gatewayKey, dataDir: owuiData });
    // The first account is OpenWebUI's admin; its token is what the browser and n8n use.
    const signup = await fetch(`${owui.url}/api/v1/auths/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada', email: 'ada@example.com', password: `pw-${randomUUID()}` }),
    });
    assert.equal(signup.status, 200, await signup.clone().text());
    token = ((await signup.json()) as { token: string }).token;
    // No "what's new" dialog over the chat.
    await owuiApi('/api/v1/users/user/settings/update', { method: 'POST', body: JSON.stringify({ ui: { version: OPENWEBUI_VERSION, showChangelog: false } }) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((t) => localStorage.setItem('token', t), token);
    page = await context.newPage();
    await page.goto(owui.url);
    n8nFolder = await mkdtemp(join(tmpdir(), 'aiproc-n8n-owui-'));
    n8nDatabase = `aiproc_n8n_${randomBytes(6).toString('hex')}`;
    const admin = await adminClient();
    await admin.query(`create database ${n8nDatabase}`);
    await admin.end();
  });

  after(async () => {
    held.open();
    await browser?.close();
    await owui?.stop();
    await aiproc?.stop();
    await ollama?.close();
    await sql?.end();
    await db?.drop();
    const admin = await adminClient();
    await admin.query(`drop database if exists ${n8nDatabase} with (force)`).catch(() => {});
    await admin.end();
    for (const d of [owuiData, n8nFolder]) if (d) await rm(d, { recursive: true, force: true });
    process.stdout.write(`screenshots in ${shots.dir}\n`);
  });

  /** Runs the real feedback-sync workflow of n8n/ against this OpenWebUI, with the admin's token. */
  async function syncFeedback(): Promise<void> {
    const env = n8nEnv(n8nFolder, n8nDatabase, 'aiproc-owui-test-key');
    const n8n = (...args: string[]) => run(n8nBin, args, env, n8nFolder);
    const wf = await importPatched(n8n, n8nFolder, 'feedback-sync.json', { openwebuiUrl: owui.url, feedbackUrl: `${aiproc.url}/v1/feedback` }, {
      'aiproc feedback token': feedbackToken,
      'OpenWebUI admin API key': token,
    });
    const r = await n8n('execute', `--id=${wf.id}`, '--rawOutput');
    assert.equal(r.code, 0, r.out.slice(-6000));
  }

  /** Asks in a new chat of the browser and waits for the whole answer; returns the chat id (from the URL). */
  async function ask(question: string, whileHeld?: () => Promise<void>): Promise<string> {
    const input = page.locator('#chat-input');
    await input.click();
    await page.keyboard.type(question);
    await page.locator('#send-message-button').click();
    const reply = page.locator('.chat-assistant').last();
    if (whileHeld) await whileHeld();
    await reply.locator('pre, .cm-editor, code').filter({ hasText: /def (reverse|total)/ }).first().waitFor({ timeout: 240_000 });
    // The answer is complete once OpenWebUI shows the message's action buttons.
    await page.locator('button[aria-label="Good Response"]').last().waitFor({ timeout: 120_000 });
    const m = /\/c\/([^/?#]+)/.exec(page.url());
    assert.ok(m, `a chat URL, not ${page.url()}`);
    return m[1]!;
  }

  /** The job a chat's rating was stored on, once the sync ran; with every job of that chat. */
  async function ratedJob(chatId: string) {
    const ratings = await sql.query(`select r.job_id, r.score, r.message_id from aiproc.ratings r where r.chat_id = $1`, [chatId]);
    const jobs = await sql.query(`select id, meta, answer, created_at from aiproc.jobs where meta ->> 'chatId' = $1 order by created_at`, [chatId]);
    return { ratings: ratings.rows as Array<{ job_id: string; score: number; message_id: string | null }>, jobs: jobs.rows as Array<{ id: string; meta: Record<string, string>; answer: string | null }> };
  }

  it('lists aiproc and every configured model in the model picker', async () => {
    const apiModels = ((await owuiApi('/api/models')) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    assert.deepEqual(apiModels.filter((id) => !id.startsWith('arena')).sort(), ['aiproc', 'codellama-34b', 'codellama-70b', 'codellama-7b']);
    await page.locator('#model-selector-model-button').click();
    const list = page.locator('#model-selector-list');
    await list.waitFor();
    for (const id of ['aiproc', 'codellama-7b', 'codellama-34b', 'codellama-70b']) await list.locator(`button[aria-label="Select ${id} model"]`).waitFor();
    await shot('1-model-list');
    await list.locator('button[aria-label="Select aiproc model"]').click();
    await page.locator('#model-selector-model-button[aria-label="Selected model: aiproc"]').waitFor();
  });

  let chatId: string;
  it('a two-part question shows a live reasoning block, then the answer with a rendered code block; the chat gets its generated title', async () => {
    chatId = await ask(QUESTION, async () => {
      // GIVEN the first part is held: the reasoning block is there and the answer unfinished. The
      // block says "Thinking..." until the first answer text arrives; with a stitched answer that
      // is the merger's opening, written while the parts run, so it may already say "Thought for…".
      const reply = page.locator('.chat-assistant').last();
      await reply.getByText(/^(Thinking\.\.\.|Thought for .+)$/).first().waitFor({ timeout: 240_000 });
      assert.equal(await reply.getByText('A monad chains computations that carry a context.').count(), 0, 'part 1 is still held');
      assert.equal(await page.locator('button[aria-label="Good Response"]').count(), 0, 'the message is not finished');
      await shot('2-reasoning-live');
      held.open();
    });
    const reply = page.locator('.chat-assistant').last();
    await reply.getByText(/Thought/).first().waitFor();
    await shot('3-answer');
    // The reasoning block holds the plan and the progress: the steps after the plan are not items of its list.
    await reply.getByText(/Thought/).first().click();
    await reply.getByText('Planning…').waitFor();
    await reply.locator('li', { hasText: 'Monads → codellama-70b' }).waitFor();
    await reply.getByText(/Part \d \((Monads|Python)\) started/).first().waitFor();
    assert.equal(await reply.locator('li', { hasText: /started|done|Merging/ }).count(), 0, 'no progress step nested in the plan list');
    await shot('3b-reasoning-open');
    const codeText = await page.locator('.chat-assistant').last().locator('pre, .cm-content').filter({ hasText: 'def reverse' }).first().innerText();
    assert.match(codeText, /def reverse\(xs\):/);
    // The title task was answered by the planner model and OpenWebUI shows it in the sidebar.
    await page.locator('#sidebar, nav').getByText(TITLE).first().waitFor({ timeout: 120_000 });
    await shot('4-title');
    const { jobs } = await ratedJob(chatId);
    assert.ok(jobs.some((j) => j.meta.task === 'title_generation'), 'the title was a task job');
    const answers = jobs.filter((j) => !j.meta.task);
    assert.equal(answers.length, 1, JSON.stringify(jobs.map((j) => j.meta)));
    assert.ok(answers[0]!.meta.messageId, 'with the custom headers, the answer job has the message id');
    assert.ok(answers[0]!.meta.user, 'the gateway named its end user');
    const principal = await sql.query('select principal from aiproc.jobs where id = $1', [answers[0]!.id]);
    assert.equal(principal.rows[0]!.principal, 'gateway:openwebui');
  });

  it('a thumbs-up in the UI reaches, through the real n8n feedback sync, the job of the answer it rates', async () => {
    await page.locator('button[aria-label="Good Response"]').last().click();
    // OpenWebUI stores the rating at once, then offers a comment form for it.
    await page.locator('[id^="message-feedback-"]').last().waitFor();
    await shot('5-rated');
    await syncFeedback();
    const { ratings, jobs } = await ratedJob(chatId);
    const answer = jobs.find((j) => !j.meta.task)!;
    assert.deepEqual(ratings.map((r) => [r.job_id, r.score]), [[answer.id, 10]]);
    assert.equal(ratings[0]!.message_id, answer.meta.messageId, 'found by the message id');
  });

  it('without the custom headers, the rating still finds the answer job, not the tags task that follows it', async () => {
    // The connection as a user sets it up by hand without step 2 of the README: no custom headers.
    const cfg = await owuiApi('/openai/config');
    await owuiApi('/openai/config/update', { method: 'POST', body: JSON.stringify({ ...cfg, OPENAI_API_CONFIGS: { '0': { enable: true } } }) });
    await page.goto(owui.url);
    await page.locator('#chat-input').waitFor();
    const second = await ask(SECOND);
    await page.locator('button[aria-label="Good Response"]').last().click();
    await page.locator('[id^="message-feedback-"]').last().waitFor();
    await shot('6-rated-without-headers');
    // OpenWebUI asks for tags right after a rating: that task job is the chat's newest.
    await waitFor('the tags task of the rating', async () => (await ratedJob(second)).jobs.some((j) => j.meta.task === 'tags_generation'), 120_000, 200);
    await syncFeedback();
    const { ratings, jobs } = await ratedJob(second);
    const answers = jobs.filter((j) => !j.meta.task);
    assert.equal(answers.length, 1);
    assert.equal(answers[0]!.meta.messageId, undefined, 'no message id without the headers');
    assert.deepEqual(ratings.map((r) => [r.job_id, r.score]), [[answers[0]!.id, 10]]);
    // and the first chat's rating was not sent again (the sync resumed from its cursor)
    assert.equal((await ratedJob(chatId)).ratings.length, 1);
  });
});
