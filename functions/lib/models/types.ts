import type { Capability } from './capabilities.ts';
import type { ChatMessage, OutputFormat, Sampling, Tool, ToolCall, ToolChoice, Usage } from '../events/schemas.ts';

export interface ChatRequest {
  /** The backend's model name: an Ollama tag; ignored by the embedded engine (one model loaded). */
  model: string;
  messages: ChatMessage[];
  /** A JSON schema the output must follow, or `json` for any JSON (Ollama `format`; a grammar for the embedded engine). */
  format?: OutputFormat;
  maxTokens?: number;
  temperature?: number;
  /** The client's sampling settings; `temperature` above, when set, wins (our own calls). */
  sampling?: Sampling;
  /** Functions the model may call (Ollama `tools`); `toolChoice` narrows them. */
  tools?: Tool[];
  toolChoice?: ToolChoice;
  /** Called with each piece of text as it is generated. */
  onText?: (delta: string) => void;
  /** Aborting stops generation; chat() then rejects with CancelledError. */
  signal?: AbortSignal;
}

export interface ChatResult {
  content: string;
  /** Calls the model made to the request's tools. */
  toolCalls?: ToolCall[];
  usage: Usage;
  durations: { totalMs: number; promptMs?: number; evalMs?: number };
  doneReason?: string;
}

/**
 * One small interface over Ollama and the embedded engine: chat, streamed, with stats at the end.
 * Failures: UpstreamError (backend answered badly / is down: retried), BadInputError (never works),
 * CancelledError (signal aborted).
 */
export interface ModelClient {
  readonly backend: 'ollama' | 'embedded' | 'scripted';
  /** Chats it generates at once (the embedded engine: its context sequences; more wait in its queue). Unset: no limit of its own. */
  readonly concurrency?: number;
  /** One line for the start banner, e.g. `ollama at http://127.0.0.1:11434`. */
  describe(): string;
  chat(req: ChatRequest): Promise<ChatResult>;
  /**
   * What the backend says a model can do (undefined: it does not say; the models config decides).
   * Ollama: from /api/show; the embedded engine: JSON output, nothing else.
   */
  capabilities?(model: string): Promise<Capability[] | undefined>;
  close(): Promise<void>;
}
