import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { pino } from 'pino';
import type { Principal } from '../../functions/lib/auth/principal.ts';
import { SettingsSchema, type Settings } from '../../functions/lib/config/settings.ts';
import { parseModelsConfig } from '../../functions/lib/config/models.ts';
import type { FunctionContext } from '../../functions/lib/context.ts';
import type { AnyEvent } from '../../functions/lib/events/index.ts';
import { RulesCache } from '../../functions/lib/rules.ts';
import type { Store } from '../../functions/lib/store/types.ts';

export const testModels = parseModelsConfig({
  planner: 'small',
  merger: 'small',
  models: [
    { slug: 'small', ollama: 'small:1b', strengths: 'short answers' },
    { slug: 'coder', ollama: 'coder:7b', strengths: 'code' },
  ],
});

/** A context around `store`, with settings from `env` (as the process would read them). */
export function makeCtx(store: Store, env: Record<string, string> = {}): FunctionContext & { emitted: AnyEvent[]; settings: Settings } {
  const emitted: AnyEvent[] = [];
  return {
    settings: SettingsSchema.parse(env),
    config: testModels,
    store,
    model: {
      backend: 'scripted',
      describe: () => 'none',
      chat: () => Promise.reject(new Error('the feedback function calls no model')),
      close: async () => {},
    },
    rules: new RulesCache(store, 60_000),
    log: pino({ level: 'silent' }),
    emit: async (ev) => void emitted.push(ev),
    instance: 'test',
    emitted,
  };
}

/** Creates a completed job with OpenWebUI ids on it; returns its id. */
export async function seedJob(store: Store, meta: { chatId?: string; messageId?: string; user?: string } = {}, answer = 'an answer'): Promise<string> {
  const id = randomUUID();
  await store.createJob({ id, model: 'aiproc', messages: [{ role: 'user', content: `question ${id}` }], owner: 'test', stream: false, meta });
  await store.setPlan(id, [{ index: 0, title: 'all', prompt: `question ${id}`, model: 'small' }], true);
  await store.completeJob(id, answer, { promptTokens: 1, completionTokens: 1 });
  return id;
}

/** The store the feedback tests run against: the real SqlStore on an in-memory PGlite. */
export async function openStore(): Promise<Store> {
  const { SqlStore } = await import('../../functions/lib/store/sql-store.ts');
  const { pgliteDriver } = await import('../../functions/lib/store/pglite-driver.ts');
  const store = new SqlStore(pgliteDriver());
  await store.init();
  return store;
}

/** `app` as the API mounts it, behind auth that found `principal` (no keys involved). */
export function asPrincipal(app: Hono, principal: Principal): Hono {
  const outer = new Hono();
  outer.use('*', async (c, next) => {
    c.set('principal', principal);
    await next();
  });
  return outer.route('/', app);
}
