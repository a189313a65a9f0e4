import { z } from 'zod';

/** Every event type, reverse-DNS and past tense (DESIGN: Events). */
export const EventTypes = {
  taskRequested: 'dev.aiproc.task.requested',
  taskCompleted: 'dev.aiproc.task.completed',
  taskFailed: 'dev.aiproc.task.failed',
  jobProgress: 'dev.aiproc.job.progress',
  jobDelta: 'dev.aiproc.job.delta',
  jobCompleted: 'dev.aiproc.job.completed',
  jobFailed: 'dev.aiproc.job.failed',
  /** A split job was planned: the merger writes the stitched answer's opening meanwhile. */
  jobPlanned: 'dev.aiproc.job.planned',
  /** Broadcast on aiproc.events only: every process stops its work for the job. */
  jobCancelled: 'dev.aiproc.job.cancelled',
  feedbackRated: 'dev.aiproc.feedback.rated',
  ruleProposed: 'dev.aiproc.rule.proposed',
  performanceReported: 'dev.aiproc.performance.reported',
} as const;

export type EventType = (typeof EventTypes)[keyof typeof EventTypes];

/** A tool call as a model made it: OpenAI's shape, flattened (arguments stay the JSON text the model wrote). */
export const ToolCallSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  /** Images of a user message (base64, no data: prefix), for vision models (Ollama `images`). */
  images: z.array(z.string().min(1)).optional(),
  /** The tool calls of an assistant message, passed back to the model on the next turn. */
  toolCalls: z.array(ToolCallSchema).optional(),
  /** A `tool` message: the id of the call it answers. */
  toolCallId: z.string().min(1).optional(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

/**
 * The client's sampling settings, in our names; each backend maps them to its own
 * (Ollama options, node-llama-cpp's generateResponse options). Unset means the model's default.
 */
export const SamplingSchema = z
  .object({
    temperature: z.number().min(0).max(2),
    topP: z.number().min(0).max(1),
    topK: z.number().int().min(0),
    minP: z.number().min(0).max(1),
    stop: z.array(z.string().min(1)).max(16),
    seed: z.number().int(),
    presencePenalty: z.number().min(-2).max(2),
    frequencyPenalty: z.number().min(-2).max(2),
    repeatPenalty: z.number().min(0),
    repeatLastN: z.number().int().min(-1),
  })
  .partial();
export type Sampling = z.infer<typeof SamplingSchema>;

/** A function the model may call (OpenAI `tools[].function`). */
export const ToolSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export type Tool = z.infer<typeof ToolSchema>;

/** OpenAI's tool_choice, normalised: a mode, or one function by name. */
export const ToolChoiceSchema = z.union([z.enum(['none', 'auto', 'required']), z.object({ name: z.string().min(1) })]);
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** What the answer must be: any JSON object, or JSON following a schema. */
export const OutputFormatSchema = z.union([z.literal('json'), z.record(z.string(), z.unknown())]);
export type OutputFormat = z.infer<typeof OutputFormatSchema>;

export const UsageSchema = z.object({
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
});
export type Usage = z.infer<typeof UsageSchema>;

/** One part of a plan: what to ask, and which model (by slug) answers it. */
export const PlanPartSchema = z.object({
  index: z.number().int().min(0),
  title: z.string().min(1).max(200),
  prompt: z.string().min(1),
  model: z.string().min(1),
  /** Indexes of the parts this one needs: it starts once they are done, with their answers as context. */
  after: z.array(z.number().int().min(0)).optional(),
});
export type PlanPart = z.infer<typeof PlanPartSchema>;

/** How a split job's answer is put together: part answers verbatim with short joins, or one new text. */
export const SynthesisSchema = z.enum(['stitch', 'rewrite']);
export type Synthesis = z.infer<typeof SynthesisSchema>;

/** A finished part another part depends on: its answer, or why there is none. */
export const DependencySchema = z.object({
  index: z.number().int().min(0),
  title: z.string(),
  output: z.string().nullable(),
  error: z.string().nullable().optional(),
});
export type Dependency = z.infer<typeof DependencySchema>;

const jobId = z.uuid();
const slugOrStar = z.string().regex(/^(\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?)$/, 'a model slug or "*"');

export const TaskRequestedSchema = z.object({
  jobId,
  part: PlanPartSchema,
  /** How many parts the job has. */
  total: z.number().int().min(1),
  /** One part, no synthesis: inference streams its tokens straight to the owner as job.delta. */
  fastPath: z.boolean(),
  /** The conversation before the last user message, for context. */
  context: z.array(ChatMessageSchema).default([]),
  maxTokens: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  /** Stitched synthesis: the part streams its text to the owner as job.delta (with its index). */
  synthesis: SynthesisSchema.optional(),
  /** The answers of the parts named in `part.after`, for its context. */
  dependencies: z.array(DependencySchema).optional(),
  /** The client's sampling settings (temperature included), for this part. */
  sampling: SamplingSchema.optional(),
  /** The answer must be JSON (response_format). */
  format: OutputFormatSchema.optional(),
  /** Functions the model may call, and how (tools, tool_choice, parallel_tool_calls). */
  tools: z.array(ToolSchema).optional(),
  toolChoice: ToolChoiceSchema.optional(),
  parallelToolCalls: z.boolean().optional(),
  /** The images of the question (the last user message), for a vision model. */
  images: z.array(z.string().min(1)).optional(),
  /** The messages after the last user message (an assistant's tool calls, their results): they follow the part's prompt. */
  followUp: z.array(ChatMessageSchema).optional(),
});

export const TaskCompletedSchema = z.object({
  jobId,
  index: z.number().int().min(0),
  model: z.string(),
  output: z.string(),
  /** The model asked for these tools to be called instead of (or beside) answering. */
  toolCalls: z.array(ToolCallSchema).optional(),
  usage: UsageSchema,
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  attempts: z.number().int().min(1),
});

export const TaskFailedSchema = z.object({
  jobId,
  index: z.number().int().min(0),
  model: z.string(),
  error: z.string(),
  attempts: z.number().int().min(0),
});

export const JobProgressSchema = z.object({
  jobId,
  stage: z.enum(['planning', 'planned', 'part.started', 'part.completed', 'part.failed', 'merging']),
  message: z.string(),
  plan: z.array(PlanPartSchema).optional(),
  index: z.number().int().min(0).optional(),
  /** With `planned` on a split job: how its answer will be put together. */
  synthesis: SynthesisSchema.optional(),
});

export const JobDeltaSchema = z.object({
  jobId,
  content: z.string(),
  /** Who wrote it: the merger's synthesis, or an inference on the fast path. */
  from: z.enum(['merger', 'inference']),
  /** On the fast path: the part's attempt, so a retry after text was streamed can be shown as one. */
  attempt: z.number().int().min(1).optional(),
  /** Stitched synthesis: the part this text belongs to (the owner puts parts in plan order). */
  part: z.number().int().min(0).optional(),
  /** Stitched synthesis: the opening the merger wrote (sent whole, once). */
  segment: z.enum(['opening']).optional(),
  /** Stitched synthesis: the part (this attempt) has sent all its text. */
  done: z.boolean().optional(),
  /** Tool calls the model made, streamed as they are complete. */
  toolCalls: z.array(ToolCallSchema).optional(),
});

export const JobPlannedSchema = z.object({
  jobId,
  synthesis: SynthesisSchema,
});

export const JobCompletedSchema = z.object({
  jobId,
  answer: z.string(),
  usage: UsageSchema,
  /** Indexes of parts that failed; the answer says what is missing. */
  failedParts: z.array(z.number().int().min(0)).default([]),
});

export const JobFailedSchema = z.object({
  jobId,
  error: z.string(),
});

export const JobCancelledSchema = z.object({
  jobId,
  reason: z.string(),
});

const thumbsOrScore = z.union([
  z.object({ thumbs: z.enum(['up', 'down']) }).strict(),
  z.object({ score: z.number().int().min(1).max(10) }).strict(),
]);

export const FeedbackRatedSchema = z
  .object({
    /** The job rated; or OpenWebUI's chat/message ids, which the splitter recorded on the job. */
    jobId: jobId.optional(),
    chatId: z.string().min(1).optional(),
    messageId: z.string().min(1).optional(),
    rating: thumbsOrScore,
    comment: z.string().max(10_000).optional(),
    user: z.string().optional(),
  })
  .refine((d) => d.jobId !== undefined || d.messageId !== undefined || d.chatId !== undefined, {
    message: 'a rating needs jobId, or OpenWebUI chatId/messageId',
    path: ['jobId'],
  });

export const RuleScope = z.enum(['planner', 'inference', 'merger']);

export const RuleProposedSchema = z.object({
  scope: RuleScope,
  /** A model slug, or "*" for every model. */
  model: slugOrStar.default('*'),
  text: z.string().min(1).max(4000),
  reason: z.string().max(4000).optional(),
  origin: z.enum(['n8n', 'person', 'api']).default('api'),
  /** Rules arrive inactive until a person approves them, unless this says otherwise. */
  active: z.boolean().default(false),
  /** A new version of an existing rule (its id); otherwise a new rule. */
  replaces: z.string().optional(),
});

export const PerformanceReportedSchema = z.object({
  model: slugOrStar,
  windowStart: z.iso.datetime().optional(),
  windowEnd: z.iso.datetime().optional(),
  figures: z.record(z.string(), z.number()),
  note: z.string().max(4000).optional(),
});

/** The data schema of every event type. */
export const DataSchemas = {
  [EventTypes.taskRequested]: TaskRequestedSchema,
  [EventTypes.taskCompleted]: TaskCompletedSchema,
  [EventTypes.taskFailed]: TaskFailedSchema,
  [EventTypes.jobProgress]: JobProgressSchema,
  [EventTypes.jobDelta]: JobDeltaSchema,
  [EventTypes.jobCompleted]: JobCompletedSchema,
  [EventTypes.jobFailed]: JobFailedSchema,
  [EventTypes.jobPlanned]: JobPlannedSchema,
  [EventTypes.jobCancelled]: JobCancelledSchema,
  [EventTypes.feedbackRated]: FeedbackRatedSchema,
  [EventTypes.ruleProposed]: RuleProposedSchema,
  [EventTypes.performanceReported]: PerformanceReportedSchema,
} as const;

export type EventDataMap = { [K in EventType]: z.infer<(typeof DataSchemas)[K]> };

export type TaskRequested = EventDataMap[typeof EventTypes.taskRequested];
export type TaskCompleted = EventDataMap[typeof EventTypes.taskCompleted];
export type TaskFailed = EventDataMap[typeof EventTypes.taskFailed];
export type JobProgress = EventDataMap[typeof EventTypes.jobProgress];
export type JobDelta = EventDataMap[typeof EventTypes.jobDelta];
export type JobCompleted = EventDataMap[typeof EventTypes.jobCompleted];
export type JobFailed = EventDataMap[typeof EventTypes.jobFailed];
export type JobPlanned = EventDataMap[typeof EventTypes.jobPlanned];
export type JobCancelled = EventDataMap[typeof EventTypes.jobCancelled];
export type FeedbackRated = EventDataMap[typeof EventTypes.feedbackRated];
export type RuleProposed = EventDataMap[typeof EventTypes.ruleProposed];
export type PerformanceReported = EventDataMap[typeof EventTypes.performanceReported];
