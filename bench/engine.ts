/**
 * Tokens per second through the pipeline's fast path (npm start, HTTP, the in-process bus,
 * the store, the embedded engine, SSE back) versus node-llama-cpp called directly, on the same
 * model, prompt and greedy decoding, in one run. Prints both and the ratio (target ≥ 0.9).
 * Ratios only: absolute numbers depend on the machine and on whatever else runs on it.
 *
 * Usage: npm run bench:engine [-- --model FILE.gguf --tokens 128 --runs 3]
 * The pipeline side asks a configured model by name (one part, no planning, no synthesis),
 * so both sides generate the same tokens from the same chat.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getLlama, LlamaChat, type ChatHistoryItem } from 'node-llama-cpp';
import { partSystem } from '../functions/inference/prompts.ts';
import { startAiproc } from '../test/support/aiproc-process.ts';
import { testModel } from '../test/support/test-model.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    tokens: { type: 'string', default: '128' },
    runs: { type: 'string', default: '3' },
    prompt: { type: 'string', default: 'Write a short story about a robot who learns to paint.' },
  },
});
const modelPath = values.model ?? (await testModel());
const maxTokens = Number(values.tokens);
const runs = Number(values.runs);
const prompt = values.prompt!;
const system = partSystem(1);

interface Sample {
  tokens: number;
  /** CPU time the generating process spent (user + system), when it can be read. */
  cpuMs: number;
  /** From sending the request to the last token. */
  totalMs: number;
  /** From the first streamed text to the last. */
  genMs: number;
}

const rate = (s: Sample) => (s.tokens / s.genMs) * 1000;
const cpuRate = (s: Sample) => (s.tokens / s.cpuMs) * 1000;

/** CPU ms used so far by a process (Linux /proc), or NaN elsewhere. */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function direct(): Promise<{ sample: () => Promise<Sample>; close: () => Promise<void> }> {
  const llama = await getLlama({ build: 'never', skipDownload: true, progressLogs: false });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 4096, sequences: 1, ...(llama.gpu === false ? { threads: llama.cpuMathCores } : {}) });
  const chat = new LlamaChat({ contextSequence: context.getSequence() });
  const history: ChatHistoryItem[] = [{ type: 'system', text: system }, { type: 'user', text: prompt }, { type: 'model', response: [] }];
  return {
    sample: async () => {
      let first = 0;
      let tokens = 0;
      const cpu0 = selfCpuMs();
      const t0 = performance.now();
      await chat.generateResponse(history, {
        maxTokens,
        temperature: 0,
        onToken: (t) => (tokens += t.length),
        onTextChunk: () => (first ||= performance.now()),
      });
      const end = performance.now();
      return { tokens, cpuMs: selfCpuMs() - cpu0, totalMs: end - t0, genMs: end - first };
    },
    close: async () => {
      chat.dispose();
      await context.dispose();
      await model.dispose();
    },
  };
}

async function pipeline(): Promise<{ sample: () => Promise<Sample>; close: () => Promise<void> }> {
  const app = await startAiproc({ AIPROC_MODEL: modelPath });
  const sample = async (): Promise<Sample> => {
    const cpu0 = cpuMsOf(app.child.pid!);
    const t0 = performance.now();
    const res = await fetch(`${app.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'codellama-7b', stream: true, stream_options: { include_usage: true }, max_tokens: maxTokens, temperature: 0, messages: [{ role: 'user', content: prompt }] }),
    });
    if (!res.ok || !res.body) throw new Error(`pipeline answered ${res.status}: ${await res.text()}`);
    let first = 0;
    let last = 0;
    let tokens = 0;
    let buf = '';
    const decoder = new TextDecoder();
    for await (const bytes of res.body) {
      buf += decoder.decode(bytes, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(0, cut).split('\n').find((l) => l.startsWith('data:'))?.slice(5).trim();
        buf = buf.slice(cut + 2);
        if (!data || data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.choices?.[0]?.delta?.content) {
          first ||= performance.now();
          last = performance.now();
        }
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
    }
    return { tokens, cpuMs: cpuMsOf(app.child.pid!) - cpu0, totalMs: last - t0, genMs: last - first };
  };
  return {
    sample: () =>
      sample().catch((err: unknown) => {
        throw new Error(`the pipeline failed (${(err as Error).message}); npm start said:\n${app.stderr().slice(-3000)}`, { cause: err });
      }),
    close: () => app.stop(),
  };
}

const sides = { direct: await direct(), pipeline: await pipeline() };
const samples: Record<keyof typeof sides, Sample[]> = { direct: [], pipeline: [] };
try {
  // one warm-up each, then alternate so that both see the same machine load
  await sides.direct.sample();
  await sides.pipeline.sample();
  for (let i = 0; i < runs; i++) {
    for (const side of ['direct', 'pipeline'] as const) {
      const s = await sides[side].sample();
      samples[side].push(s);
      process.stderr.write(`${side.padEnd(8)} run ${i + 1}: ${s.tokens} tokens, ${rate(s).toFixed(1)} tok/s while generating, ${cpuRate(s).toFixed(1)} tok per CPU-second\n`);
    }
  }
} finally {
  await sides.pipeline.close();
  await sides.direct.close();
}

const gen = { direct: median(samples.direct.map(rate)), pipeline: median(samples.pipeline.map(rate)) };
const e2e = {
  direct: median(samples.direct.map((s) => (s.tokens / s.totalMs) * 1000)),
  pipeline: median(samples.pipeline.map((s) => (s.tokens / s.totalMs) * 1000)),
};
console.log(`model: ${modelPath}; ${maxTokens} tokens max, ${runs} runs each, medians`);
// The headline: from sending the request to the last token, so both sides pay for the prompt and
// the pipeline for everything it adds (HTTP, bus, store, SSE). "While generating" starts at the
// first streamed text; the pipeline sends text in small batches, which flatters it a little.
console.log(`tokens/s, request to last token: direct ${e2e.direct.toFixed(1)}, pipeline ${e2e.pipeline.toFixed(1)}, ratio ${(e2e.pipeline / e2e.direct).toFixed(3)} (target >= 0.9)`);
console.log(`tokens/s while generating: direct ${gen.direct.toFixed(1)}, pipeline ${gen.pipeline.toFixed(1)}, ratio ${(gen.pipeline / gen.direct).toFixed(3)}`);
// Wall-clock rates swing with whatever else runs on the machine; CPU time spent per token much less so.
const cpu = { direct: median(samples.direct.map(cpuRate)), pipeline: median(samples.pipeline.map(cpuRate)) };
if (Number.isFinite(cpu.pipeline)) console.log(`tokens per CPU-second: direct ${cpu.direct.toFixed(1)}, pipeline ${cpu.pipeline.toFixed(1)}, ratio ${(cpu.pipeline / cpu.direct).toFixed(3)} (the whole npm start process, store and HTTP included)`);
