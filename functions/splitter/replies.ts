import type { AnyEvent } from '../lib/events/event.ts';

/**
 * Hands the replies arriving on this splitter instance's reply queue (job.progress, job.delta,
 * job.completed, job.failed) to whoever waits on that job here: the open HTTP response, job-event streams.
 * Replies for a job nobody waits on are dropped: the store holds the job's truth.
 * @example const off = hub.subscribe(jobId, (ev) => …); … off()
 */
export class ReplyHub {
  readonly #listeners = new Map<string, Set<(e: AnyEvent) => void>>();

  subscribe(jobId: string, listener: (e: AnyEvent) => void): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) this.#listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(jobId);
    };
  }

  deliver(event: AnyEvent): void {
    const jobId = event.jobid ?? (event.data as { jobId?: string }).jobId;
    if (!jobId) return;
    for (const l of this.#listeners.get(jobId) ?? []) l(event);
  }

  /** Jobs with someone waiting here. */
  get size(): number {
    return this.#listeners.size;
  }
}
