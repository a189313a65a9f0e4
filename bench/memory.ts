/**
 * `npm run bench:memory`: how much memory `npm start` holds with an Ollama backend (no model in
 * the process) — resident set size idle after start, the peak during start, and after 50 jobs —
 * against the targets (idle ≤ 250 MB, start-up peak ≤ twice that). One run, figures printed; not
 * a test. Linux: reads /proc/<pid>/status (VmRSS now, VmHWM the peak so far).
 *
 * The Ollama is the scripted Ollama-API server of the tests, so no model runs anywhere. The first
 * start is on a fresh data folder (it creates the database: initdb and the migrations), the second
 * on the same folder (what every later `npm start` does). The process runs with the Node options
 * of `npm start`; BENCH_NODE_ARGS replaces them (e.g. BENCH_NODE_ARGS= to compare without).
 * Settings: BENCH_JOBS (default 50), BENCH_CONCURRENCY (default 5).
 */
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnListening, startNodeArgs } from '../test/support/aiproc-process.ts';
import { pipelineScript } from '../test/support/pipeline-script.ts';
import { startScriptedOllama } from '../test/support/scripted-ollama.ts';

const MB = 1024 * 1024;
const IDLE_TARGET_MB = 250;
const jobs = Number(process.env.BENCH_JOBS ?? 50);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 5);
const nodeArgs = process.env.BENCH_NODE_ARGS !== undefined ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : startNodeArgs();

/** VmRSS and VmHWM of a process, in MB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** RSS once it has settled: four readings 250 ms apart within 2 MB of each other (at most 20 s). */
async function settledRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 80; i++) {
    readings.push(memoryOf(pid).rss);
    const last = readings.slice(-4);
    if (last.length === 4 && Math.max(...last) - Math.min(...last) < 2) return last.at(-1)!;
    await delay(250);
  }
  return readings.at(-1)!;
}

async function chat(url: string, n: number): Promise<void> {
  const question = n % 2 ? `Question ${n}: explain three topics` : `Question ${n}: what is a queue?`;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'aiproc', messages: [{ role: 'user', content: question }] }),
  });
  if (!res.ok) throw new Error(`job ${n}: HTTP ${res.status} ${await res.text()}`);
  await res.json();
}

const fmt = (mb: number) => `${mb.toFixed(0).padStart(5)} MB`;

/** `npm start`'s process on the data folder, with the scripted Ollama and JSON logs. */
function start(dataDir: string, ollamaUrl: string) {
  const env = { PORT: '0', AIPROC_DATA_DIR: dataDir, OLLAMA_HOST: ollamaUrl, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' };
  return spawnListening('functions/main.ts', env, { nodeArgs });
}

async function main() {
  const ollama = await startScriptedOllama(pipelineScript);
  const dataDir = mkdtempSync(join(tmpdir(), 'aiproc-bench-memory-'));
  const line = (what: string, mb: number, note = '') => console.log(`  ${what.padEnd(26)}${fmt(mb)}   ${note}`);
  const verdict = (mb: number, limit: number) => `target ≤ ${limit} MB: ${mb <= limit ? 'ok' : 'OVER'}`;
  try {
    console.log(`npm start (node ${[...nodeArgs, 'functions/main.ts'].join(' ')}) with Ollama (scripted) — resident set size of the server process`);
    const first = await start(dataDir, ollama.url);
    const pid = first.child.pid!;
    const startPeak = memoryOf(pid).peak;
    const idle = await settledRss(pid);
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < jobs) await chat(first.url, next++);
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const after = await settledRss(pid);
    const overall = memoryOf(pid).peak;
    await first.stop();
    console.log('first start (fresh data folder: creates the database)');
    line('peak during start', startPeak, verdict(startPeak, 2 * IDLE_TARGET_MB));
    line('idle after start', idle, verdict(idle, IDLE_TARGET_MB));
    line(`after ${jobs} jobs`, after, `${concurrency} at a time, ${seconds.toFixed(1)} s; peak over the run ${fmt(overall).trim()}`);

    const again = await start(dataDir, ollama.url);
    const againPeak = memoryOf(again.child.pid!).peak;
    const againIdle = await settledRss(again.child.pid!);
    await again.stop();
    console.log('second start (same folder: what every later npm start does)');
    line('peak during start', againPeak, verdict(againPeak, 2 * IDLE_TARGET_MB));
    line('idle after start', againIdle, verdict(againIdle, IDLE_TARGET_MB));
  } finally {
    await ollama.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
