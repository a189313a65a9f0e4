import { Hono } from 'hono';
import { z } from 'zod';
import type { FunctionContext } from '../lib/context.ts';
import { NotFoundError } from '../lib/errors.ts';
import { RuleProposedSchema, RuleScope } from '../lib/events/index.ts';
import type { RuleView } from '../lib/store/types.ts';
import { allowRoles } from '../lib/http/auth.ts';
import { jsonBody, jsonErrors, parse } from '../lib/http/json-api.ts';

/**
 * Who made a rule is the server's to say, from the credential: a rule made here was made by an
 * administrator (`person`); n8n's proposals come through the feedback function (`n8n`). A body
 * may repeat that, never claim another.
 */
const RULES_API_ORIGIN = 'person';
const origin = z.literal(RULES_API_ORIGIN, { error: `origin is set by the server from your credential: here it is always "${RULES_API_ORIGIN}"` }).optional();

/** A new rule: what an administrator sends; inactive unless `active: true`. */
export const CreateRuleSchema = RuleProposedSchema.omit({ origin: true, replaces: true }).extend({ origin }).strict();

/** A new version of a rule: the text changes; scope and model stay unless given. */
export const NewVersionSchema = z
  .object({
    text: z.string().min(1).max(4000),
    reason: z.string().max(4000).optional(),
    scope: RuleScope.optional(),
    model: RuleProposedSchema.shape.model.removeDefault().optional(),
    origin,
    active: z.boolean().default(false),
  })
  .strict();

const ListQuery = z.object({
  scope: RuleScope.optional(),
  active: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
});

/**
 * The rules API, for administrators only (the lead mounts it at `/v1/rules`, behind the API keys):
 * `GET /` (`?scope=&active=`), `POST /`, `GET /stats`, `GET /:id`, `POST /:id/activate`,
 * `POST /:id/retire` (`:id` is a version's id), `POST /:ruleId/versions`.
 * Every change refreshes this process's rules cache, so the next prompt sees it.
 * @example app.route('/v1/rules', createRulesApi(ctx))
 */
export function createRulesApi(ctx: FunctionContext): Hono {
  const app = new Hono();
  const { store } = ctx;
  // Rules shape every user's prompts: only an administrator changes or reads them.
  app.use('*', allowRoles('admin'));

  app.get('/', async (c) => {
    const q = parse(ListQuery, c.req.query(), 'query');
    return c.json({ object: 'list', data: await store.listRules({ ...(q.scope && { scope: q.scope }), ...(q.active !== undefined && { active: q.active }) }) });
  });

  app.post('/', async (c) => {
    const body = parse(CreateRuleSchema, await jsonBody(c), 'body');
    const rule = await store.proposeRule({ ...body, origin: RULES_API_ORIGIN });
    changed('created', rule);
    return c.json(rule, 201);
  });

  /**
   * Per rule version: the jobs it shaped, how many of them were rated, their average score, and
   * the version before it with its average — did the change help?
   */
  app.get('/stats', async (c) => {
    const q = parse(ListQuery, c.req.query(), 'query');
    const all = await store.ruleStats();
    const byVersion = new Map(all.map((s) => [`${s.rule.ruleId}#${s.rule.version}`, s]));
    const stats = all
      .filter((s) => (q.scope === undefined || s.rule.scope === q.scope) && (q.active === undefined || s.rule.active === q.active))
      .map((s) => {
        const before = byVersion.get(`${s.rule.ruleId}#${s.rule.version - 1}`);
        return { ...s, previous: before ? { id: before.rule.id, version: before.rule.version, ratings: before.ratings, averageScore: before.averageScore } : null };
      });
    return c.json({ object: 'list', data: stats });
  });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const versions = (await store.listRules()).filter((r) => r.id === id || r.ruleId === id);
    if (versions.length === 0) throw new NotFoundError(`no rule or rule version ${id}`);
    return c.json({ object: 'list', data: versions.sort((a, b) => a.version - b.version) });
  });

  app.post('/:id/activate', async (c) => {
    const rule = await store.setRuleActive(c.req.param('id'), true);
    changed('activated', rule);
    return c.json(rule);
  });

  app.post('/:id/retire', async (c) => {
    const rule = await store.setRuleActive(c.req.param('id'), false);
    changed('retired', rule);
    return c.json(rule);
  });

  app.post('/:ruleId/versions', async (c) => {
    const ruleId = c.req.param('ruleId');
    const body = parse(NewVersionSchema, await jsonBody(c), 'body');
    const latest = (await store.listRules()).filter((r) => r.ruleId === ruleId).sort((a, b) => b.version - a.version)[0];
    if (!latest) throw new NotFoundError(`no rule ${ruleId}`);
    const rule = await store.proposeRule({
      scope: body.scope ?? latest.scope,
      model: body.model ?? latest.model,
      text: body.text,
      ...(body.reason !== undefined && { reason: body.reason }),
      origin: RULES_API_ORIGIN,
      active: body.active,
      replaces: ruleId,
    });
    changed('new version', rule);
    return c.json(rule, 201);
  });

  jsonErrors(app, ctx.log, 'rules API');

  function changed(what: string, rule: RuleView): void {
    ctx.rules.invalidate();
    ctx.log.info({ ruleId: rule.ruleId, id: rule.id, version: rule.version, scope: rule.scope, model: rule.model, active: rule.active }, `rule ${what}`);
  }
  return app;
}
