import type { JobEventRecord, JobView } from '../lib/store/types.ts';

export type BarKind = 'plan' | 'queued' | 'waits' | 'part' | 'synthesis';

export interface Bar {
  kind: BarKind;
  /** The lane: `planner`, a model slug, or `merger`. */
  lane: string;
  /** Milliseconds from the job's creation. */
  start: number;
  end: number;
  label: string;
  status?: string;
  index?: number;
}

export interface Timeline {
  jobId: string;
  status: string;
  model: string;
  /** Who asked (`<role>:<name>` of the key). */
  principal: string;
  createdAt: string;
  /** Milliseconds from creation to the end (or to now, while it runs). */
  span: number;
  lanes: string[];
  bars: Bar[];
}

const at = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

/**
 * Where a job spent its time, as bars on lanes: the plan on the planner's lane; each part on its
 * model's lane, after a `queued` bar (sent, not started yet) or a `waits` bar when it depended on
 * earlier parts (`after`); the synthesis on the `merger` lane. Times come from the job and its
 * progress history; a step still running ends at `now`.
 * @example timelineOf(job, await store.listJobEvents(job.id), Date.now(), 'codellama-34b')
 */
export function timelineOf(job: JobView, events: JobEventRecord[], now: number, mergerModel: string): Timeline {
  const t0 = at(job.createdAt);
  const rel = (t: number) => Math.max(0, t - t0);
  const done = at(job.completedAt) || (['failed', 'cancelled'].includes(job.status) ? at(job.updatedAt) : NaN);
  const end = Number.isFinite(done) ? done : now;
  const stage = (name: string) => events.find((e) => e.stage === name);
  const planned = at(stage('planned')?.at) || (job.parts.length ? Math.min(...job.parts.map((p) => at(p.startedAt)).filter(Number.isFinite), end) : end);
  const bars: Bar[] = [{ kind: 'plan', lane: 'planner', start: 0, end: rel(planned), label: job.fastPath ? 'plan (fast path)' : `plan: ${job.parts.length} parts` }];
  const lanes = new Set<string>(['planner']);
  const after = new Map((job.plan ?? []).map((p) => [p.index, (p as { after?: number[] }).after ?? []]));
  for (const p of job.parts) {
    lanes.add(p.model);
    const started = at(p.startedAt) || at(events.find((e) => e.stage === 'part.started' && (e.data as { index?: number }).index === p.index)?.at);
    const finished = at(p.finishedAt) || (p.status === 'running' || p.status === 'pending' ? end : NaN);
    const waitEnd = Number.isFinite(started) ? started : finished || end;
    const deps = after.get(p.index) ?? [];
    const retried = p.attempts > 1 ? ` (attempt ${p.attempts}; earlier attempts failed)` : '';
    if (waitEnd > planned)
      bars.push({
        kind: deps.length ? 'waits' : 'queued',
        lane: p.model,
        start: rel(planned),
        end: rel(waitEnd),
        label: deps.length ? `part ${p.index + 1} waits on part ${deps.map((d) => d + 1).join(', ')}` : `part ${p.index + 1} queued${retried}`,
        index: p.index,
      });
    if (Number.isFinite(started))
      bars.push({ kind: 'part', lane: p.model, start: rel(started), end: rel(Number.isFinite(finished) ? finished : end), label: `${p.index + 1}. ${p.title}`, status: p.status, index: p.index });
  }
  const merging = at(stage('merging')?.at);
  if (!job.fastPath && Number.isFinite(merging)) {
    lanes.add('merger');
    bars.push({ kind: 'synthesis', lane: 'merger', start: rel(merging), end: rel(end), label: `synthesis on ${mergerModel}`, status: job.status });
  }
  return { jobId: job.id, status: job.status, model: job.model, principal: job.principal, createdAt: job.createdAt, span: rel(end), lanes: [...lanes], bars };
}

export interface ModelLoad {
  model: string;
  running: number;
  completed: number;
  failed: number;
  /** failed / (completed + failed), 0 when none ended. */
  errorRate: number;
}

/**
 * Per-model load and error rate over the given jobs' parts.
 * @example modelLoad(await store.listJobs(100))
 */
export function modelLoad(jobs: JobView[]): ModelLoad[] {
  const by = new Map<string, ModelLoad>();
  for (const p of jobs.flatMap((j) => j.parts)) {
    const m = by.get(p.model) ?? { model: p.model, running: 0, completed: 0, failed: 0, errorRate: 0 };
    if (p.status === 'running' || p.status === 'pending') m.running += 1;
    else if (p.status === 'completed') m.completed += 1;
    else if (p.status === 'failed') m.failed += 1;
    by.set(p.model, m);
  }
  for (const m of by.values()) m.errorRate = m.completed + m.failed ? m.failed / (m.completed + m.failed) : 0;
  return [...by.values()].sort((a, b) => a.model.localeCompare(b.model));
}
