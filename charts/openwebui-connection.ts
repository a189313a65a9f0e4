/**
 * OpenWebUI's connection to aiproc, set up for the user wherever we deploy OpenWebUI (charts,
 * docker-compose.yml, the test:openwebui suite) and written out step by step in the README.
 * Read from OpenWebUI 0.12.4's source: `OPENAI_API_CONFIGS` is keyed by the connection's index
 * ("0" = the first URL of OPENAI_API_BASE_URL(S)); its `headers` are sent on every request to that
 * connection, with `{{…}}` placeholders filled in (utils/headers.py parse_custom_headers).
 */

/**
 * The custom headers: OpenWebUI 0.12.4 forwards only the chat and user ids by itself
 * (ENABLE_FORWARD_USER_INFO_HEADERS); the message id (so a rating finds the answer it rates) and
 * the background task's name come only through these.
 */
export const OPENWEBUI_HEADERS: Readonly<Record<string, string>> = {
  'X-OpenWebUI-Chat-Id': '{{CHAT_ID}}',
  'X-OpenWebUI-Message-Id': '{{MESSAGE_ID}}',
  'X-OpenWebUI-Task': '{{TASK}}',
};

/** OpenWebUI's defaults for every model (merged under each model's own metadata): no built-in tools. */
export const DEFAULT_MODEL_METADATA = { capabilities: { builtin_tools: false } } as const;

/**
 * OpenWebUI's environment for one OpenAI connection to the splitter (the key is passed apart, from a secret).
 * @example openWebUIEnv('http://splitter.aiproc.svc.cluster.local/v1').OPENAI_API_CONFIGS // '{"0":{"enable":true,"headers":{…}}}'
 */
export function openWebUIEnv(splitterV1: string): Record<string, string> {
  return {
    OPENAI_API_BASE_URL: splitterV1,
    OPENAI_API_CONFIGS: JSON.stringify({ '0': { enable: true, headers: OPENWEBUI_HEADERS } }),
    ENABLE_OLLAMA_API: 'false',
    // The user and chat ids (X-OpenWebUI-User-*, X-OpenWebUI-Chat-Id), for ratings and rules.
    ENABLE_FORWARD_USER_INFO_HEADERS: 'true',
    // OpenWebUI 0.12.4 sends its built-in tools (native function calling) with every chat from the
    // browser (utils/middleware.py use_builtin_tools). aiproc answers a request with tools in one
    // part, since a tool call cannot be split: every question would skip the split. Off by default
    // for every model; a model's own capabilities in OpenWebUI's model settings still win.
    DEFAULT_MODEL_METADATA: JSON.stringify(DEFAULT_MODEL_METADATA),
  };
}
