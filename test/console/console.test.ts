import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startAiproc, type AiprocProcess } from '../support/aiproc-process.ts';
import { CHROMIUM, ensureChromium } from '../support/openwebui.ts';
import { pipelineScript } from '../support/pipeline-script.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type ScriptedOllama } from '../support/scripted-ollama.ts';

const ADMIN = 'console-admin-key-1';
const USER = 'console-user-key-1';

/** Holds the synthesis of a job that asks to be watched live, until the test lets it go. */
let release: () => void = () => {};
const held = new Promise<void>((r) => (release = r));
async function script(req: ReceivedChat) {
  const watched = req.messages.some((m) => m.content.includes('watched live'));
  if (watched && roleOf(req) === 'merger') await held;
  return pipelineScript(req);
}

// The operator console in Debian's Chromium (headless), against npm start with admin and user keys.
describe('the operator console at /console', () => {
  let ollama: ScriptedOllama;
  let app: AiprocProcess;
  let browser: Browser;
  let page: Page;
  let jobId: string;
  let ruleVersion: string;
  const api = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`${app.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(init.headers as Record<string, string>) } });

  before(async () => {
    ollama = await startScriptedOllama(script);
    app = await startAiproc({ OLLAMA_HOST: ollama.url, AIPROC_ADMIN_KEYS: `ops:${ADMIN}`, AIPROC_API_KEYS: `alice:${USER}` });
    const res = await api('/v1/chat/completions', USER, { method: 'POST', body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: 'Tell me about three topics.' }] }) });
    assert.equal(res.status, 200, await res.clone().text());
    jobId = res.headers.get('x-request-id')!;
    await res.json();
    const rule = await api('/v1/rules', ADMIN, { method: 'POST', body: JSON.stringify({ scope: 'merger', model: '*', text: 'Open with a one-line summary.', active: false }) });
    assert.equal(rule.status, 201, await rule.clone().text());
    ruleVersion = ((await rule.json()) as { id: string }).id;
    await ensureChromium();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await ollama?.close();
  });

  test('a non-admin key gets 403, from the API and on the page', async () => {
    assert.equal((await api('/v1/console/overview', USER)).status, 403);
    assert.equal((await fetch(`${app.url}/v1/console/overview`)).status, 401, 'no key at all: 401');
    await page.goto(`${app.url}/console`);
    await page.fill('#key', USER);
    await page.click('#key-form button');
    await page.waitForFunction("document.querySelector('#status').textContent.startsWith('403')");
    assert.equal(await page.locator('.job').count(), 0, 'nothing shown to a user');
  });

  test('the timeline shows a finished job\'s plan, each part on its model\'s lane, and the synthesis', async (t) => {
    await page.fill('#key', ADMIN);
    await page.click('#key-form button');
    const job = page.locator(`.job[data-job="${jobId}"][data-status="completed"]`);
    await job.waitFor();
    const kinds = await job.locator('rect').evaluateAll((rs: Array<{ getAttribute(name: string): string | null }>) => rs.map((r) => `${r.getAttribute('data-kind')}:${r.getAttribute('data-index') ?? ''}`));
    assert.ok(kinds.includes('plan:'), kinds.join(' '));
    assert.deepEqual(kinds.filter((k) => k.startsWith('part:')).sort(), ['part:0', 'part:1', 'part:2']);
    assert.ok(kinds.includes('synthesis:'), kinds.join(' '));
    const lanes = await job.locator('svg > text').allTextContents();
    for (const lane of ['planner', 'codellama-7b', 'codellama-34b', 'codellama-70b', 'merger']) assert.ok(lanes.includes(lane), lanes.join(', '));
    assert.equal(await page.locator('#models tr[data-model="codellama-7b"] td').nth(2).textContent(), '1', 'one completed part on codellama-7b');
    const shot = join(tmpdir(), `aiproc-console-${Date.now()}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  });

  test('approving a proposed rule activates it', async () => {
    const row = page.locator(`#rules tr[data-rule="${ruleVersion}"]`);
    assert.equal(await row.getAttribute('data-active'), 'false');
    await row.locator('button[data-action="approve"]').click();
    await page.locator(`#rules tr[data-rule="${ruleVersion}"][data-active="true"]`).waitFor();
    const stored = (await (await api(`/v1/rules/${ruleVersion}`, ADMIN)).json()) as { data: Array<{ id: string; active: boolean }> };
    assert.equal(stored.data.find((r) => r.id === ruleVersion)?.active, true, 'the store has it active');
  });

  test('a running job moves live: the page follows its event stream and shows it finished', async () => {
    const streams: string[] = [];
    page.on('request', (r) => r.url().endsWith('/events') && streams.push(r.url()));
    const res = await api('/v1/chat/completions', USER, { method: 'POST', body: JSON.stringify({ model: 'aiproc', stream: true, messages: [{ role: 'user', content: 'Tell me about three topics, watched live.' }] }) });
    const live = res.headers.get('x-request-id')!;
    const body = res.text();
    // The parts are done and the synthesis is held: the page shows the job still running, its parts finished.
    await page.locator(`.job[data-job="${live}"]:not([data-status="completed"]) rect.part.completed >> nth=2`).waitFor();
    assert.ok(streams.some((u) => u.endsWith(`/v1/jobs/${live}/events`)), `the page follows the job's event stream (${streams.join(', ')})`);
    release();
    await body;
    await page.locator(`.job[data-job="${live}"][data-status="completed"] rect[data-kind="synthesis"]`).waitFor();
  });
});
