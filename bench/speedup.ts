/**
 * `npm run bench:speedup`: does the split pay off? The same multi-part questions go through the
 * best single worker model (codellama-70b, asked directly) and through `aiproc` (planned, parts
 * side by side on the models that suit them, stitched), in one run, against a scripted
 * Ollama-API model that generates at fixed per-model speeds and writes answers as long as what
 * is asked (the whole question: the sum of its parts; a join: a sentence or two).
 *
 * Prints a table — wall time, time to first content token, tokens generated, merge share (tokens
 * the merger model wrote ÷ all tokens) — and, last, one JSON line with the ratios for the case of
 * three independent parts: wallRatio (aiproc wall ÷ single wall, target ≤ 0.5), ttfcRatio (aiproc
 * time to first content ÷ single wall, target ≤ 0.25), mergeShare (target ≤ 0.15).
 *
 * The scripted model answers each request on its own (as Ollama with OLLAMA_NUM_PARALLEL or one
 * GPU per model would); aiproc's own limits (parts per model at once) still apply.
 * Settings: BENCH_SPEED (multiplies every model's speed, default 1).
 */
import { startAiproc } from '../test/support/aiproc-process.ts';
import { roleOf, startScriptedOllama, type ReceivedChat, type Reply } from '../test/support/scripted-ollama.ts';

const SPEED = Number(process.env['BENCH_SPEED'] ?? 1);

/** Tokens per second, and the delay before the first token (reading the prompt), per model. */
const MODELS: Record<string, { tokensPerSecond: number; firstTokenMs: number }> = {
  'codellama:7b-instruct': { tokensPerSecond: 200, firstTokenMs: 30 },
  'codellama:34b-instruct': { tokensPerSecond: 100, firstTokenMs: 80 },
  'codellama:70b-instruct': { tokensPerSecond: 50, firstTokenMs: 150 },
};
const SINGLE = 'codellama-70b';

interface Part {
  title: string;
  prompt: string;
  model: string;
  after?: number[];
  /** How long an answer it asks for, in tokens. */
  tokens: number;
}
interface Case {
  name: string;
  parts: Part[];
}

const CASES: Case[] = [
  {
    name: 'three independent parts',
    parts: [
      { title: 'Consensus', prompt: 'Explain how the Raft consensus algorithm elects a leader.', model: 'codellama-70b', tokens: 150 },
      { title: 'Merge sorted lists', prompt: 'Write a Python function that merges two sorted lists.', model: 'codellama-34b', tokens: 150 },
      { title: 'HTTP status codes', prompt: 'List the HTTP status code classes with one example each.', model: 'codellama-7b', tokens: 150 },
    ],
  },
  {
    name: 'a dependent pair',
    parts: [
      { title: 'Date parser', prompt: 'Write a Python function that parses ISO dates.', model: 'codellama-34b', tokens: 150 },
      { title: 'Tests for the parser', prompt: 'Write unit tests for the date parser.', model: 'codellama-34b', after: [0], tokens: 150 },
    ],
  },
];

const OPENING_WORDS = 25;
const CLOSING_WORDS = 40;

const question = (c: Case) => c.parts.map((p) => p.prompt).join(' Then: ');
const words = (n: number, word: string) => Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ');
const lastUser = (req: ReceivedChat) => req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

/** Tokens written per role while a case runs. */
let written = { planner: 0, merger: 0, part: 0 };

async function respond(c: Case, req: ReceivedChat): Promise<Reply> {
  const speed = MODELS[req.model] ?? MODELS['codellama:7b-instruct']!;
  await new Promise((r) => setTimeout(r, speed.firstTokenMs / SPEED));
  const role = roleOf(req);
  const user = lastUser(req);
  let content: string;
  let tokens: number;
  if (role === 'planner') {
    content = JSON.stringify({ parts: c.parts.map(({ title, prompt, model, after }) => ({ title, prompt, model, ...(after && { after }) })), synthesis: 'stitch' });
    tokens = Math.ceil(content.length / 4);
  } else if (role === 'merger') {
    tokens = /open the answer/.test(user) ? OPENING_WORDS : /closing/.test(user) ? CLOSING_WORDS : c.parts.reduce((n, p) => n + p.tokens, 0);
    content = words(tokens, 'join');
  } else {
    // A part answers its own size; the whole question (asked of one model) the sum of its parts.
    const part = c.parts.find((p) => user === p.prompt || user.endsWith(`Now: ${p.prompt}`));
    tokens = part ? part.tokens : c.parts.reduce((n, p) => n + p.tokens, 0);
    content = words(tokens, 'tok');
  }
  written[role] += tokens;
  // One piece per token, at the model's speed.
  return { content, chunks: tokens, chunkDelayMs: 1000 / speed.tokensPerSecond / SPEED, promptTokens: Math.ceil(user.length / 4) };
}

interface Run {
  wallMs: number;
  ttfcMs: number;
  tokens: number;
  mergerTokens: number;
}

async function timed(url: string, model: string, text: string): Promise<Run> {
  written = { planner: 0, merger: 0, part: 0 };
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: text }] }),
  });
  if (!res.ok) throw new Error(`${model}: HTTP ${res.status} ${await res.text()}`);
  let ttfc = NaN;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    if (Number.isNaN(ttfc) && /"content":"[^"]/.test(buffer)) ttfc = performance.now() - t0;
    buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 1);
  }
  const wallMs = performance.now() - t0;
  return { wallMs, ttfcMs: ttfc, tokens: written.planner + written.merger + written.part, mergerTokens: written.merger };
}

async function main(): Promise<void> {
  let current: Case = CASES[0]!;
  const ollama = await startScriptedOllama((req) => respond(current, req));
  const app = await startAiproc({ OLLAMA_HOST: ollama.url, LOG_LEVEL: 'error' });
  const rows: Array<{ case: string; via: string } & Run> = [];
  try {
    for (const c of CASES) {
      current = c;
      rows.push({ case: c.name, via: `single ${SINGLE}`, ...(await timed(app.url, SINGLE, question(c))) });
      rows.push({ case: c.name, via: 'aiproc', ...(await timed(app.url, 'aiproc', question(c))) });
    }
  } finally {
    await app.stop();
    await ollama.close();
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const table = [
    ['case', 'via', 'wall', 'first content', 'tokens', 'merge share'],
    ...rows.map((r) => [r.case, r.via, s(r.wallMs), s(r.ttfcMs), String(r.tokens), (r.mergerTokens / r.tokens).toFixed(3)]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}\n`);
  const ratios = CASES.map((c) => {
    const single = rows.find((r) => r.case === c.name && r.via !== 'aiproc')!;
    const split = rows.find((r) => r.case === c.name && r.via === 'aiproc')!;
    return {
      case: c.name,
      wallRatio: round(split.wallMs / single.wallMs),
      ttfcRatio: round(split.ttfcMs / single.wallMs),
      mergeShare: round(split.mergerTokens / split.tokens),
    };
  });
  for (const r of ratios) process.stdout.write(`${r.case}: wall ${r.wallRatio} × single (target ≤ 0.5), first content ${r.ttfcRatio} × single wall (≤ 0.25), merge share ${r.mergeShare} (≤ 0.15)\n`);
  const main = ratios[0]!;
  process.stdout.write(`${JSON.stringify({ ...main, targetsMet: main.wallRatio <= 0.5 && main.ttfcRatio <= 0.25 && main.mergeShare <= 0.15, dependentPair: ratios[1] })}\n`);
}

const round = (x: number) => Math.round(x * 1000) / 1000;

main().catch((err: unknown) => {
  process.stderr.write(`bench:speedup failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
