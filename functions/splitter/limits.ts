import { jobScope, type JobScope, type Principal } from '../lib/auth/principal.ts';
import type { FunctionContext } from '../lib/context.ts';
import { TooManyRequestsError } from '../lib/errors.ts';
import type { NewJob } from '../lib/store/types.ts';

const DAY_S = 24 * 3600;
/** A job takes seconds to minutes: when to try again after the concurrency limit. */
const BUSY_RETRY_S = 10;

/**
 * Refuses a new job (TooManyRequestsError: 429 with Retry-After) when its principal — for a
 * gateway naming its end user, that user — has AIPROC_MAX_JOBS_PER_KEY jobs unfinished, or has
 * used AIPROC_MAX_TOKENS_PER_DAY tokens in the last 24 hours. Open mode (no keys) has no limits.
 * Checked as the job starts, from the store, so every splitter instance counts the same jobs.
 * @example await checkLimits(ctx, c.get('principal'))
 */
export async function checkLimits(ctx: FunctionContext, principal: Principal): Promise<void> {
  const { AIPROC_MAX_JOBS_PER_KEY: maxJobs, AIPROC_MAX_TOKENS_PER_DAY: maxTokens } = ctx.settings;
  if (principal.open || (maxJobs === 0 && maxTokens === 0)) return;
  const usage = await ctx.store.principalUsage(limitScope(principal), DAY_S);
  const who = whoOf(principal);
  if (maxJobs > 0 && usage.active >= maxJobs) {
    throw new TooManyRequestsError(`${who} has ${usage.active} jobs running; at most ${maxJobs} at once (AIPROC_MAX_JOBS_PER_KEY)`, BUSY_RETRY_S);
  }
  if (maxTokens > 0 && usage.tokens >= maxTokens) {
    const freed = usage.oldestAt ? (Date.parse(usage.oldestAt) + DAY_S * 1000 - Date.now()) / 1000 : DAY_S;
    throw new TooManyRequestsError(`${who} used ${usage.tokens} tokens in the last 24 hours; at most ${maxTokens} (AIPROC_MAX_TOKENS_PER_DAY)`, freed);
  }
}

/** Whose jobs count together: the principal, or a gateway's end user; an admin counts as a user. */
function limitScope(principal: Principal): JobScope {
  return jobScope({ ...principal, role: principal.role === 'admin' ? 'user' : principal.role });
}

const whoOf = (principal: Principal) => (principal.user !== undefined ? `${principal.name} for user ${principal.user}` : principal.name);

/**
 * Records a new job under AIPROC_MAX_JOBS_PER_KEY, counted in the same step as the insert: the
 * check in checkLimits comes first (and covers the daily tokens), but two requests at the same
 * instant, or on two splitter instances, can both pass it. The one that finds the last place
 * taken gets the same 429.
 * @example await createJobWithinLimit(ctx, principal, { id, model, messages, owner, stream, meta })
 */
export async function createJobWithinLimit(ctx: FunctionContext, principal: Principal, job: NewJob): Promise<void> {
  const maxActive = ctx.settings.AIPROC_MAX_JOBS_PER_KEY;
  const limit = principal.open || maxActive === 0 ? undefined : { scope: limitScope(principal), maxActive };
  try {
    await ctx.store.createJob({ ...job, ...(limit && { limit }) });
  } catch (err) {
    if (err instanceof TooManyRequestsError) throw new TooManyRequestsError(`${whoOf(principal)} has ${err.message}`, BUSY_RETRY_S);
    throw err;
  }
}
