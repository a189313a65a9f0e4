import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../../functions/app.ts';
import { startEmbedded as startEmbeddedApp } from '../../functions/embedded.ts';
import type { MemoryBus } from '../../functions/lib/bus/memory.ts';
import { loadModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { createLogger } from '../../functions/lib/log.ts';
import type { ChatRequest, ChatResult, ModelClient } from '../../functions/lib/models/types.ts';
import type { DescribedStore } from '../../functions/lib/store/index.ts';
import { ReplyHub } from '../../functions/splitter/replies.ts';

export const ROOT = new URL('../..', import.meta.url).pathname;

export type Role = 'planner' | 'merger' | 'part';

export function roleOfChat(req: ChatRequest): Role {
  if (req.format) return 'planner';
  const sys = req.messages.find((m) => m.role === 'system')?.content ?? '';
  return /merge answers/i.test(sys) ? 'merger' : 'part';
}

/** A model client answering from a script: (request, role, nth call of that role) => result. */
export class ScriptModel implements ModelClient {
  readonly backend = 'scripted' as const;
  calls: Array<{ role: Role; req: ChatRequest }> = [];
  readonly script: (req: ChatRequest, role: Role, n: number) => Promise<ChatResult>;
  constructor(script: (req: ChatRequest, role: Role, n: number) => Promise<ChatResult>) {
    this.script = script;
  }
  describe() {
    return 'script';
  }
  async chat(req: ChatRequest): Promise<ChatResult> {
    const role = roleOfChat(req);
    const n = this.calls.filter((c) => c.role === role).length + 1;
    this.calls.push({ role, req });
    return this.script(req, role, n);
  }
  count(role: Role) {
    return this.calls.filter((c) => c.role === role).length;
  }
  async close() {}
}

export const result = (content: string, promptTokens = 5, completionTokens = 3): ChatResult => ({
  content,
  usage: { promptTokens, completionTokens },
  durations: { totalMs: 1 },
});

export const plan = (parts: Array<[string, string, string]>) =>
  result(JSON.stringify({ parts: parts.map(([title, prompt, model]) => ({ title, prompt, model })) }));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds a scripted model until the test is ready: `await g.wait` in the script, `g.open()` in the test. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** Every ReplyHub created from now on (startRuntime keeps its hub private). */
export const hubs: ReplyHub[] = [];
const origSubscribe = ReplyHub.prototype.subscribe;
ReplyHub.prototype.subscribe = function (this: ReplyHub, ...args: Parameters<ReplyHub['subscribe']>) {
  if (!hubs.includes(this)) hubs.push(this);
  return origSubscribe.apply(this, args);
};

export interface Embedded {
  dir: string;
  rt: Runtime;
  url: string;
  bus: MemoryBus;
  store: DescribedStore;
  model: ScriptModel;
  close(): Promise<void>;
}

/** `npm start`'s embedded composition (functions/embedded.ts) in this process, on PGlite in a temp folder, with a scripted model. */
export async function startEmbedded(model: ScriptModel, env: Record<string, string> = {}, opts: { dir?: string; keepDir?: boolean } = {}): Promise<Embedded> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aiproc-robust-'));
  const settings = loadSettings(
    { AIPROC_DATA_DIR: dir, AIPROC_MODELS_FILE: join(ROOT, 'models.json'), PORT: '0', AIPROC_RETRY_DELAY_MS: '10', LOG_LEVEL: 'silent', ...env },
    { dotenv: false },
  );
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  const app = await startEmbeddedApp({ settings, config, log: createLogger(settings.LOG_LEVEL), model: async () => model });
  const { runtime: rt, bus, store } = app;
  return {
    dir,
    rt,
    url: rt.url!,
    bus,
    store,
    model,
    async close() {
      await app.close().catch(() => {});
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `data:` payloads of an SSE body. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n'))
    .filter((d) => d !== '');
}

/** The concatenated `delta.content` of a chat-completion SSE body. */
export function streamedContent(text: string): string {
  let out = '';
  for (const d of sseData(text)) {
    if (d === '[DONE]') continue;
    const obj = JSON.parse(d) as { choices?: Array<{ delta?: { content?: string } }> };
    out += obj.choices?.[0]?.delta?.content ?? '';
  }
  return out;
}

/** Resolves with the value, or with `timedOut` after ms. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'timed out'> {
  return Promise.race([p, new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), ms).unref())]);
}
