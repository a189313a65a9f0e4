import type { Handler, FunctionContext } from '../lib/context.ts';
import { BadInputError, NotFoundError } from '../lib/errors.ts';
import { EventTypes, type AiprocEvent, type FeedbackRated } from '../lib/events/index.ts';

/**
 * A rating as a score 1..10: thumbs up is 10, thumbs down is 1, a score stays as it is.
 * @example normaliseRating({ thumbs: 'up' }) // 10
 */
export function normaliseRating(rating: FeedbackRated['rating']): number {
  return 'thumbs' in rating ? (rating.thumbs === 'up' ? 10 : 1) : rating.score;
}

/**
 * The feedback function: stores ratings (linked to their job), rule proposals and performance
 * reports. A repeated event (same source and id) is accepted once. A rating whose job cannot be
 * found is rejected with BadInputError (400: never retried — no later delivery will find it).
 * @example await feedbackHandler(makeEvent(EventTypes.feedbackRated, { jobId, rating: { thumbs: 'up' } }, { source: 'n8n' }), ctx, info)
 */
export const feedbackHandler: Handler = async (event, ctx) => {
  switch (event.type) {
    case EventTypes.feedbackRated:
      return rated(event, ctx);
    case EventTypes.ruleProposed:
      return ruleProposed(event, ctx);
    case EventTypes.performanceReported:
      return performanceReported(event, ctx);
    default:
      throw new BadInputError(
        `the feedback function takes ${EventTypes.feedbackRated}, ${EventTypes.ruleProposed} or ${EventTypes.performanceReported}, not ${event.type}`,
        { param: 'type' },
      );
  }
};

async function rated(event: AiprocEvent<typeof EventTypes.feedbackRated>, ctx: FunctionContext): Promise<void> {
  const d = event.data;
  // By job id we can check first; by OpenWebUI ids the store resolves the job inside addRating.
  if (d.jobId !== undefined && (await ctx.store.getJob(d.jobId)) === null) {
    throw new BadInputError(`no job with id ${d.jobId}`, { param: 'data.jobId' });
  }
  const score = normaliseRating(d.rating);
  let result: { stored: boolean; jobId: string | null };
  try {
    result = await ctx.store.addRating({
      eventSource: event.source,
      eventId: event.id,
      ...(d.jobId !== undefined && { jobId: d.jobId }),
      ...(d.chatId !== undefined && { chatId: d.chatId }),
      ...(d.messageId !== undefined && { messageId: d.messageId }),
      score,
      ...(d.comment !== undefined && { comment: d.comment }),
      ...(d.user !== undefined && { user: d.user }),
    });
  } catch (err) {
    if (err instanceof NotFoundError) throw new BadInputError(`no job matches this rating (${describeTarget(d)})`, { param: targetParam(d), cause: err });
    throw err;
  }
  // No job found: the store kept nothing, and every delivery gets the same 400.
  if (result.jobId === null) {
    throw new BadInputError(`no job matches this rating (${describeTarget(d)})`, { param: targetParam(d) });
  }
  if (!result.stored) {
    ctx.log.info({ eventId: event.id, source: event.source }, 'rating already stored: repeated event ignored');
    return;
  }
  ctx.log.info({ eventId: event.id, jobId: result.jobId, score }, 'rating stored');
  if (ctx.metrics) ctx.metrics.rated((await ctx.store.getJob(result.jobId).catch(() => null))?.parts.map((p) => p.model) ?? [], score);
}

/** What a feedback sender's proposals are recorded as, whatever the event says: the server sets origin from the credential. */
export const FEEDBACK_ORIGIN = 'n8n';

async function ruleProposed(event: AiprocEvent<typeof EventTypes.ruleProposed>, ctx: FunctionContext): Promise<void> {
  const d = event.data;
  // A proposal changes nobody's prompts until an administrator activates it (POST /v1/rules/:id/activate).
  if (d.active) {
    throw new BadInputError('data.active: a proposed rule is stored inactive; an administrator activates it with POST /v1/rules/<id>/activate', { param: 'data.active' });
  }
  let rule;
  try {
    rule = await ctx.store.proposeRule({
      scope: d.scope,
      model: d.model,
      text: d.text,
      ...(d.reason !== undefined && { reason: d.reason }),
      origin: FEEDBACK_ORIGIN,
      active: false,
      ...(d.replaces !== undefined && { replaces: d.replaces }),
      // Rules carry no event id of their own: the store records the event with the rule, atomically.
      event: { source: event.source, id: event.id },
    });
  } catch (err) {
    if (err instanceof NotFoundError) throw new BadInputError(`data.replaces: no rule ${d.replaces}`, { param: 'data.replaces', cause: err });
    throw err;
  }
  if (!rule) {
    ctx.log.info({ eventId: event.id, source: event.source }, 'rule proposal already stored: repeated event ignored');
    return;
  }
  ctx.rules.invalidate();
  ctx.log.info({ ruleId: rule.ruleId, version: rule.version, scope: rule.scope, model: rule.model, active: rule.active }, 'rule stored');
}

async function performanceReported(event: AiprocEvent<typeof EventTypes.performanceReported>, ctx: FunctionContext): Promise<void> {
  const d = event.data;
  const stored = await ctx.store.addPerformanceReport({
    eventSource: event.source,
    eventId: event.id,
    model: d.model,
    figures: d.figures,
    ...(d.note !== undefined && { note: d.note }),
    ...(d.windowStart !== undefined && { windowStart: d.windowStart }),
    ...(d.windowEnd !== undefined && { windowEnd: d.windowEnd }),
  });
  const what = stored ? 'performance report stored' : 'performance report already stored';
  ctx.log.info({ eventId: event.id, source: event.source, model: d.model, figures: d.figures, stored }, d.note ? `${what}: ${d.note}` : what);
}

function describeTarget(d: FeedbackRated): string {
  const parts = [d.jobId && `jobId ${d.jobId}`, d.chatId && `chatId ${d.chatId}`, d.messageId && `messageId ${d.messageId}`];
  return parts.filter(Boolean).join(', ');
}

function targetParam(d: FeedbackRated): string {
  if (d.jobId !== undefined) return 'data.jobId';
  return d.messageId !== undefined ? 'data.messageId' : 'data.chatId';
}
