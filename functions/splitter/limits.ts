import { jobScope, type Principal } from '../lib/auth/principal.ts';
import type { FunctionContext } from '../lib/context.ts';
import { TooManyRequestsError } from '../lib/errors.ts';

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
  const scope = jobScope({ ...principal, role: principal.role === 'admin' ? 'user' : principal.role });
  const usage = await ctx.store.principalUsage(scope, DAY_S);
  const who = principal.user !== undefined ? `${principal.name} for user ${principal.user}` : principal.name;
  if (maxJobs > 0 && usage.active >= maxJobs) {
    throw new TooManyRequestsError(`${who} has ${usage.active} jobs running; at most ${maxJobs} at once (AIPROC_MAX_JOBS_PER_KEY)`, BUSY_RETRY_S);
  }
  if (maxTokens > 0 && usage.tokens >= maxTokens) {
    const freed = usage.oldestAt ? (Date.parse(usage.oldestAt) + DAY_S * 1000 - Date.now()) / 1000 : DAY_S;
    throw new TooManyRequestsError(`${who} used ${usage.tokens} tokens in the last 24 hours; at most ${maxTokens} (AIPROC_MAX_TOKENS_PER_DAY)`, freed);
  }
}
