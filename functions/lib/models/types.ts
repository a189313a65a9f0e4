import type { ChatMessage, Usage } from '../events/schemas.ts';

export interface ChatRequest {
  /** The backend's model name: an Ollama tag; ignored by the embedded engine (one model loaded). */
  model: string;
  messages: ChatMessage[];
  /** A JSON schema the output must follow (Ollama `format`; a grammar for the embedded engine). */
  format?: Record<string, unknown>;
  maxTokens?: number;
  temperature?: number;
  /** Called with each piece of text as it is generated. */
  onText?: (delta: string) => void;
  /** Aborting stops generation; chat() then rejects with CancelledError. */
  signal?: AbortSignal;
}

export interface ChatResult {
  content: string;
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
  close(): Promise<void>;
}
