/**
 * The chat-completions parameters aiproc knows but does not honour, each with why: a request
 * that sends one (with a value that would change anything) gets a 400 naming it, never silence.
 * Anything not in the request schema and not here is refused as unknown.
 */
export const REFUSED: Record<string, string> = {
  functions: 'the deprecated functions API is not supported; use tools',
  function_call: 'the deprecated functions API is not supported; use tool_choice',
  audio: 'audio output is not supported',
  prediction: 'predicted outputs are not supported',
  web_search_options: 'web search is not supported',
  reasoning_effort: 'reasoning effort cannot be set on these models',
  verbosity: 'verbosity cannot be set on these models',
  metadata: 'stored completions are not supported, so there is nothing to attach metadata to',
  // OpenWebUI sends its Ollama-only advanced parameters as top-level fields to an OpenAI
  // connection when a user sets them; they are the model server's business, not a request's.
  num_ctx: 'the context size is set on the model server (Ollama Modelfile, embedded.contextSize in models.json)',
  num_batch: 'the batch size is set on the model server',
  num_keep: 'num_keep is set on the model server',
  num_thread: 'threads are set on the model server',
  num_gpu: 'GPU layers are set on the model server',
  use_mmap: 'use_mmap is set on the model server',
  use_mlock: 'use_mlock is set on the model server',
  keep_alive: 'keep_alive is set on the model server',
  mirostat: 'mirostat sampling is not supported by the embedded engine, so it is not offered',
  mirostat_eta: 'mirostat sampling is not supported by the embedded engine, so it is not offered',
  mirostat_tau: 'mirostat sampling is not supported by the embedded engine, so it is not offered',
  tfs_z: 'tail-free sampling was removed from Ollama',
  think: 'thinking cannot be switched per request; use a model that thinks',
  format: 'use response_format',
};

/** The parameters aiproc honours, for the error that refuses an unknown one. */
export const SUPPORTED = [
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'min_p',
  'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'repeat_penalty', 'repeat_last_n', 'response_format', 'tools',
  'tool_choice', 'parallel_tool_calls', 'user', 'n (1)', 'logprobs (false)', 'logit_bias (empty)', 'store (false)', 'service_tier (auto, default)',
];

/** Why a top-level field is refused: known-but-unsupported, or unknown. */
export function refusal(key: string): string {
  return REFUSED[key] ? `${key}: ${REFUSED[key]}` : `${key}: unknown parameter; aiproc supports ${SUPPORTED.join(', ')}`;
}
