import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the scripted server received on /api/chat. */
export interface ReceivedChat {
  model: string;
  messages: { role: string; content: string; images?: string[]; tool_calls?: { function: { name: string; arguments: unknown } }[]; tool_name?: string }[];
  format?: unknown;
  stream: boolean;
  /** The sampling options as Ollama got them (num_predict, temperature, top_p, stop, seed, …). */
  options?: Record<string, unknown>;
  tools?: { type: string; function: { name: string; description?: string; parameters?: unknown } }[];
}

/** How the scripted server answers one chat. */
export type Reply =
  /** `holdAfter` pieces go out, then the rest waits for `hold` (a model still writing, held by the test); `toolCalls` come after the text. */
  | { content: string; chunks?: number; chunkDelayMs?: number; promptTokens?: number; holdAfter?: number; hold?: Promise<void>; toolCalls?: { name: string; arguments: unknown }[] }
  | { error: string; status: number }
  /** Streams `content` forever-ish (chunk by chunk) until the client goes away. */
  | { endless: string; chunkDelayMs?: number }
  /** Streams the first `chunks` pieces of `content`, then drops the connection (a model dying mid-answer). */
  | { breakAfter: number; content: string; chunkDelayMs?: number };

export type Responder = (req: ReceivedChat) => Reply | Promise<Reply>;

/** The role of a request, guessed the way the prompts are written: planner (has format), merger, or a part. */
export function roleOf(req: ReceivedChat): 'planner' | 'merger' | 'part' {
  const sys = req.messages.find((m) => m.role === 'system')?.content ?? '';
  if (/^Split the user's request/.test(sys) || (req.format && !sys)) return 'planner';
  return /merg|synthes|combine/i.test(sys) ? 'merger' : 'part';
}

/**
 * A real HTTP server speaking the Ollama API (`/api/chat` NDJSON streaming and not, `/api/tags`,
 * `/api/version`), answering from a script; it records what it received so tests can assert on prompts.
 * @example const ollama = await startScriptedOllama((req) => ({ content: 'hi' })); … await ollama.close()
 */
export async function startScriptedOllama(
  responder: Responder,
  models = ['codellama:7b-instruct', 'codellama:34b-instruct', 'codellama:70b-instruct'],
  /** What /api/show reports per model tag; unlisted models report completion and tools. */
  capabilities: Record<string, string[]> = {},
) {
  const received: ReceivedChat[] = [];
  let respond = responder;
  let aborted = 0;
  let open = 0;
  const server: Server = createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url === '/api/tags') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ models: models.map((name) => ({ name, model: name, size: 1, digest: 'x', details: {} })) }));
        return;
      }
      if (req.method === 'GET' && req.url === '/api/version') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '0.0.0-scripted' }));
        return;
      }
      if (req.method === 'POST' && req.url === '/api/show') {
        const { model } = JSON.parse(await readBody(req)) as { model: string };
        if (!models.includes(model)) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `model '${model}' not found` }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ modelfile: '', parameters: '', template: '', details: {}, model_info: {}, capabilities: capabilities[model] ?? ['completion', 'tools'] }));
        return;
      }
      if (req.method !== 'POST' || req.url !== '/api/chat') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
        return;
      }
      const body = JSON.parse(await readBody(req)) as ReceivedChat;
      const chat: ReceivedChat = { ...body, stream: body.stream !== false };
      received.push(chat);
      const reply = await respond(chat);
      if ('error' in reply) {
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: reply.error }));
        return;
      }
      let gone = false;
      open++;
      res.on('close', () => {
        open--;
        if (!res.writableFinished) {
          gone = true;
          aborted++;
        }
      });
      const base = { model: chat.model, created_at: new Date().toISOString() };
      if ('endless' in reply) {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (let i = 0; !gone && i < 100_000; i++) {
          res.write(JSON.stringify({ ...base, message: { role: 'assistant', content: reply.endless }, done: false }) + '\n');
          await delay(reply.chunkDelayMs ?? 5);
        }
        res.end();
        return;
      }
      if ('breakAfter' in reply) {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (const piece of split(reply.content, 4).slice(0, reply.breakAfter)) {
          res.write(JSON.stringify({ ...base, message: { role: 'assistant', content: piece }, done: false }) + '\n');
          await delay(reply.chunkDelayMs ?? 5);
        }
        res.destroy();
        return;
      }
      const pieces = split(reply.content, reply.chunks ?? 4);
      const final = {
        ...base,
        done: true,
        done_reason: 'stop',
        total_duration: 1_000_000 * pieces.length,
        prompt_eval_count: reply.promptTokens ?? chat.messages.reduce((n, m) => n + Math.ceil((m.content ?? '').length / 4), 0),
        prompt_eval_duration: 100_000,
        eval_count: pieces.length,
        eval_duration: 1_000_000 * pieces.length,
      };
      // Ollama sends tool calls whole, arguments as an object (a string here stands for a model that wrote bad JSON).
      const tool_calls = reply.toolCalls?.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
      if (!chat.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...final, message: { role: 'assistant', content: reply.content, ...(tool_calls && { tool_calls }) } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const [i, piece] of pieces.entries()) {
        if (i === reply.holdAfter && reply.hold) await reply.hold;
        if (gone) return;
        if (piece) res.write(JSON.stringify({ ...base, message: { role: 'assistant', content: piece }, done: false }) + '\n');
        if (reply.chunkDelayMs) await delay(reply.chunkDelayMs);
      }
      if (tool_calls) res.write(JSON.stringify({ ...base, message: { role: 'assistant', content: '', tool_calls }, done: false }) + '\n');
      res.end(JSON.stringify({ ...final, message: { role: 'assistant', content: '' } }) + '\n');
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(err) }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Every chat received, in order. */
    received,
    /** How many streamed answers the client abandoned before the end. */
    get aborted() {
      return aborted;
    },
    /** Answers being generated right now. */
    get open() {
      return open;
    },
    setResponder(r: Responder) {
      respond = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type ScriptedOllama = Awaited<ReturnType<typeof startScriptedOllama>>;

function split(text: string, n: number): string[] {
  if (text.length === 0) return [''];
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
