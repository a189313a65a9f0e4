import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { FunctionContext } from '../lib/context.ts';
import { NotFoundError, messageOf } from '../lib/errors.ts';
import { EventTypes } from '../lib/events/index.ts';
import type { JobView } from '../lib/store/types.ts';
import type { ReplyHub } from './replies.ts';

const terminal = new Set(['completed', 'failed', 'cancelled']);

/**
 * `GET /v1/jobs/:id/events`: the job's progress history, then live progress, deltas and the end,
 * as server-sent events (`event: progress|delta|completed|failed`). Closes when the job ends.
 * Live events come from this instance's replies; for a job owned by another instance the store
 * is checked every few seconds instead. A job `visible` refuses (another user's) is a 404.
 */
export async function jobEventsRoute(c: Context, ctx: FunctionContext, hub: ReplyHub, jobId: string, visible: (job: JobView) => boolean = () => true) {
  const job = await ctx.store.getJob(jobId);
  if (!job || !visible(job)) throw new NotFoundError(`no job ${jobId}`);
  return streamSSE(c, async (stream) => {
    let seq = 0;
    // One replay at a time (each reads "after seq"), and a store hiccup only delays the next one.
    let replaying: Promise<void> = Promise.resolve();
    const replay = () =>
      (replaying = replaying.then(async () => {
        try {
          for (const e of await ctx.store.listJobEvents(jobId, seq)) {
            if (e.seq <= seq) continue;
            seq = e.seq;
            await stream.writeSSE({ event: 'progress', id: String(e.seq), data: JSON.stringify(e.data) });
          }
        } catch (err) {
          ctx.log.warn({ jobId, err: messageOf(err) }, 'job events: could not read the history; will retry');
        }
      }));
    const finish = async () => {
      const now = await ctx.store.getJob(jobId).catch(() => null);
      await stream.writeSSE({ event: now?.status === 'completed' ? 'completed' : 'failed', data: JSON.stringify({ jobId, status: now?.status ?? 'unknown', answer: now?.answer ?? null, error: now?.error ?? null }) });
    };
    await replay();
    if (terminal.has(job.status)) return finish();
    await new Promise<void>((resolve) => {
      const off = hub.subscribe(jobId, (e) => {
        if (e.type === EventTypes.jobDelta) void stream.writeSSE({ event: 'delta', data: JSON.stringify(e.data) }).catch(() => undefined);
        else if (e.type === EventTypes.jobProgress) void replay();
        else done();
      });
      const timer = setInterval(() => {
        ctx.store
          .getJob(jobId)
          .then((now) => (!now || terminal.has(now.status) ? done() : replay()))
          .catch((err) => ctx.log.warn({ jobId, err: messageOf(err) }, 'job events: store not reachable; will retry'));
      }, 3000);
      stream.onAbort(() => done());
      function done() {
        off();
        clearInterval(timer);
        resolve();
      }
    });
    if (!stream.aborted) {
      await replay();
      await finish();
    }
  });
}
