/**
 * `npm run export:dataset -- [--min-score 8] [--out ./data/dataset]`
 *
 * Writes fine-tuning material from well-rated jobs:
 * - `dataset.jsonl`: one chat per line (`{"messages":[…, {"role":"assistant", …}]}`), the
 *   conversation and the final answer of every job rated at least `--min-score` (1..10);
 * - `<slug>.jsonl`: per model, the parts it answered in those jobs (its prompt and its output);
 * - `<slug>.Modelfile`: per model, `FROM <its Ollama tag>` and the active inference rules as the
 *   SYSTEM prompt, for `ollama create <name> -f <slug>.Modelfile`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelsConfig, type ModelsConfig } from '../functions/lib/config/models.ts';
import { loadSettings } from '../functions/lib/config/settings.ts';
import type { ChatMessage } from '../functions/lib/events/index.ts';
import { createStore } from '../functions/lib/store/index.ts';
import type { RuleView, Store } from '../functions/lib/store/types.ts';

export interface ExportOptions {
  /** Jobs whose average rating is at least this (1..10). */
  minScore: number;
  outDir: string;
  /** A line of progress for a person. */
  say?: (line: string) => void;
}

export interface ExportSummary {
  jobs: number;
  /** Part examples per model slug. */
  parts: Record<string, number>;
  modelfiles: string[];
  files: string[];
}

/** The base system prompt of a Modelfile; the active rules follow it. */
const BASE_SYSTEM = 'You are a helpful assistant. Answer accurately and completely.';

/**
 * Writes the dataset and the Modelfiles; returns what it wrote.
 * @example await exportDataset(store, config, { minScore: 8, outDir: 'data/dataset' })
 */
export async function exportDataset(store: Store, config: ModelsConfig, options: ExportOptions): Promise<ExportSummary> {
  const say = options.say ?? (() => {});
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true });

  say(`reading jobs rated ${options.minScore} or better…`);
  const rated = await store.ratedJobs(options.minScore);
  const chats: string[] = [];
  const perModel = new Map<string, string[]>(config.models.map((m) => [m.slug, []]));
  for (const { job, score } of rated) {
    if (job.answer === null || job.status !== 'completed') continue;
    chats.push(line([...job.messages, { role: 'assistant', content: job.answer }], { jobId: job.id, score }));
    const direct = perModel.get(job.model);
    if (direct) direct.push(line([...job.messages, { role: 'assistant', content: job.answer }], { jobId: job.id, score }));
    else {
      for (const part of job.parts) {
        if (part.status !== 'completed' || part.output === null) continue;
        perModel.get(part.model)?.push(line([{ role: 'user', content: part.prompt }, { role: 'assistant', content: part.output }], { jobId: job.id, part: part.index, score }));
      }
    }
  }

  const files: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFile(join(outDir, name), text);
    files.push(join(outDir, name));
  };
  await write('dataset.jsonl', chats.join(''));
  say(`dataset.jsonl: ${chats.length} conversations`);

  const parts: Record<string, number> = {};
  const modelfiles: string[] = [];
  for (const model of config.models) {
    const lines = perModel.get(model.slug) ?? [];
    parts[model.slug] = lines.length;
    await write(`${model.slug}.jsonl`, lines.join(''));
    const rules = await store.activeRules('inference', model.slug);
    await write(`${model.slug}.Modelfile`, modelfile(model.ollama, rules));
    modelfiles.push(join(outDir, `${model.slug}.Modelfile`));
    say(`${model.slug}: ${lines.length} part examples, Modelfile with ${rules.length} active rule${rules.length === 1 ? '' : 's'}`);
  }
  return { jobs: chats.length, parts, modelfiles, files };
}

/**
 * A Modelfile: the base model and a SYSTEM prompt carrying the active rules.
 * @example modelfile('codellama:7b-instruct', rules)
 */
export function modelfile(from: string, rules: RuleView[]): string {
  const system = rules.length === 0 ? BASE_SYSTEM : `${BASE_SYSTEM}\n\nFollow these rules:\n${rules.map((r) => `- ${r.text}`).join('\n')}`;
  // A Modelfile's triple-quoted string ends at the first """: keep the rules from closing it.
  return `FROM ${from}\nSYSTEM """${system.replaceAll('"""', '" " "')}"""\n`;
}

function line(messages: ChatMessage[], meta: Record<string, unknown>): string {
  return `${JSON.stringify({ messages, metadata: meta })}\n`;
}

const USAGE = `usage: npm run export:dataset -- [--min-score N] [--out DIR]
  --min-score N  jobs rated N or better, 1..10 (default 8)
  --out DIR      where to write (default <AIPROC_DATA_DIR>/dataset)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'min-score': { type: 'string', default: '8' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const minScore = Number(values['min-score']);
  if (!Number.isFinite(minScore) || minScore < 1 || minScore > 10) {
    console.error(`--min-score must be a number from 1 to 10, not "${values['min-score']}"\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const settings = loadSettings();
  const config = loadModelsConfig(settings.AIPROC_MODELS_FILE);
  const store = createStore(settings);
  try {
    await store.init();
    const summary = await exportDataset(store, config, { minScore, outDir: values.out ?? join(settings.AIPROC_DATA_DIR, 'dataset'), say: (l) => console.log(l) });
    console.log(`${store.describe()}: wrote ${summary.files.length} files: ${summary.jobs} conversations; create a model with: ollama create <name> -f ${summary.modelfiles[0] ?? '<slug>.Modelfile'}`);
  } finally {
    await store.close();
  }
}

if (import.meta.main) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
