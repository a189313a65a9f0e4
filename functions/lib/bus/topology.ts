import { EventTypes, type EventType } from '../events/schemas.ts';

/**
 * Names of the RabbitMQ topology (docs/architecture.md: RabbitMQ topology), shared by the in-process bus,
 * the AMQP transport and charts/ so they cannot drift.
 */
export const Exchanges = {
  tasks: 'aiproc.tasks',
  results: 'aiproc.results',
  replies: 'aiproc.replies',
  feedback: 'aiproc.feedback',
  events: 'aiproc.events',
  dead: 'aiproc.dead',
} as const;

export const Queues = {
  task: (slug: string) => `aiproc.tasks.${slug}`,
  results: 'aiproc.results',
  feedback: 'aiproc.feedback',
  reply: (instance: string) => `aiproc.replies.${instance}`,
  dead: 'aiproc.dead',
} as const;

/** Where an event goes: its exchange and routing key (for the events topic: the type). */
export type Route =
  | { kind: 'task'; exchange: typeof Exchanges.tasks; routingKey: string }
  | { kind: 'result'; exchange: typeof Exchanges.results; routingKey: string }
  | { kind: 'reply'; exchange: typeof Exchanges.replies; routingKey: string }
  | { kind: 'feedback'; exchange: typeof Exchanges.feedback; routingKey: string }
  /** Only on the events topic, for every process that watches it (no queue of its own). */
  | { kind: 'broadcast'; exchange: typeof Exchanges.events; routingKey: string };

/**
 * The route of an event. Every event is also published to `aiproc.events` with its type as key.
 * @example routeOf(ev) // { kind: 'task', exchange: 'aiproc.tasks', routingKey: 'codellama-7b' }
 */
export function routeOf(ev: { type: EventType; model?: string; owner?: string }): Route {
  switch (ev.type) {
    case EventTypes.taskRequested:
      if (!ev.model) throw new Error('task.requested needs the model extension');
      return { kind: 'task', exchange: Exchanges.tasks, routingKey: ev.model };
    case EventTypes.taskCompleted:
    case EventTypes.taskFailed:
    case EventTypes.jobPlanned:
      return { kind: 'result', exchange: Exchanges.results, routingKey: '' };
    case EventTypes.jobProgress:
    case EventTypes.jobDelta:
    case EventTypes.jobCompleted:
    case EventTypes.jobFailed:
      if (!ev.owner) throw new Error(`${ev.type} needs the owner extension`);
      return { kind: 'reply', exchange: Exchanges.replies, routingKey: ev.owner };
    case EventTypes.jobCancelled:
      return { kind: 'broadcast', exchange: Exchanges.events, routingKey: ev.type };
    case EventTypes.feedbackRated:
    case EventTypes.ruleProposed:
    case EventTypes.performanceReported:
      return { kind: 'feedback', exchange: Exchanges.feedback, routingKey: '' };
  }
}
