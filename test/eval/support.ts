import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { embeddedBackend } from '../../scripts/eval/backend.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply } from '../support/scripted-ollama.ts';

/** Whether a scripted request is the eval's judge (its system prompt says so). */
// Asked through the API (--url), the judge's system prompt comes after the part's own.
export const isJudge = (req: ReceivedChat) => req.messages.some((m) => m.role === 'system' && /strict, fair judge/.test(m.content));

/** The two answers a judge prompt shows, in the order shown. */
export function shown(req: ReceivedChat): [string, string] {
  const text = req.messages.at(-1)?.content ?? '';
  const m = /## Answer 1\n([\s\S]*)\n\n## Answer 2\n([\s\S]*)\n\nWhich answer is better\?/.exec(text);
  return [m?.[1] ?? '', m?.[2] ?? ''];
}

/**
 * The scripted models for the eval: the planner splits a question with "and" in two parts, parts
 * and single models answer `answer(<prompt>) by <tag>`, the merger joins them, and the judge does
 * what `judge` says.
 */
export function evalScript(judge: (req: ReceivedChat) => Reply) {
  return (req: ReceivedChat): Reply => {
    if (isJudge(req)) return judge(req);
    const role = roleOf(req);
    const user = req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    if (role === 'planner') {
      const halves = user.split(/, and /);
      return { content: JSON.stringify({ parts: halves.map((h, i) => ({ title: `Part ${i + 1}`, prompt: h, model: 'codellama-34b' })) }) };
    }
    if (role === 'merger') return { content: 'MERGED' };
    return { content: `answer(${user}) by ${req.model}` };
  };
}

/**
 * A scripted Ollama (its model list can be changed: `models`), a scratch folder, and the eval's
 * in-process backend on them, started once per test file (starting the store is the slow part).
 */
export async function evalEnv() {
  const models = ['codellama:7b-instruct', 'codellama:34b-instruct', 'codellama:70b-instruct'];
  const ollama = await startScriptedOllama(evalScript(() => verdict('tie')), models);
  const dir = mkdtempSync(join(tmpdir(), 'aiproc-eval-test-'));
  const env: NodeJS.ProcessEnv = { OLLAMA_HOST: ollama.url, AIPROC_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent', AIPROC_RETRY_DELAY_MS: '10' };
  const settings = loadSettings(env, { dotenv: false });
  const backend = await embeddedBackend(settings, loadModelsConfig(settings.AIPROC_MODELS_FILE), pino({ level: 'silent' }));
  return {
    ollama,
    models,
    dir,
    env,
    backend,
    /** Sets what the judge answers from now on. */
    judge: (j: (req: ReceivedChat) => Reply) => ollama.setResponder(evalScript(j)),
    async close() {
      await backend.close();
      await ollama.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const verdict = (winner: '1' | '2' | 'tie', reason = 'scripted') => ({ content: JSON.stringify({ winner, reason }) });
