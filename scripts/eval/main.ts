/**
 * `npm run eval`: is aiproc better than its strongest model alone, and at what cost in time?
 * Runs a question set through two configurations (default: `aiproc` vs the largest configured
 * model alone), has a judge model compare each pair in both orders, and writes a Markdown report,
 * an SVG chart and the raw results into a folder outside the repository. `--help` for options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadModelsConfig } from '../../functions/lib/config/models.ts';
import { loadSettings } from '../../functions/lib/config/settings.ts';
import { ConfigError, messageOf } from '../../functions/lib/errors.ts';
import { createLogger } from '../../functions/lib/log.ts';
import { ensureTestModel } from '../test-model.ts';
import { embeddedBackend, remoteBackend, type Backend } from './backend.ts';
import { largestModel, parseConfiguration } from '../../functions/eval/configs.ts';
import { DEFAULT_QUESTIONS, loadQuestions, pickQuestions } from '../../functions/eval/questions.ts';
import { timeLine, writeReport } from './report.ts';
import { checkRuleCommand, type RuleTally } from './rule.ts';
import { runEval, STEPS_PER_QUESTION, type EvalRun } from '../../functions/eval/run.ts';

const HELP = `npm run eval -- [options]

  --questions FILE     a JSONL question set (default: ${DEFAULT_QUESTIONS})
  --limit N            only the first N questions
  --compare A B        compare two configurations instead of aiproc vs the baseline:
                       aiproc | stitch | rewrite | aiproc+HEADER=value | <model slug>
  --baseline SLUG      the single model aiproc is compared with (default: the largest configured)
  --judge SLUG         the judge model (default: the largest configured)
  --url URL            evaluate a running aiproc (default: start one in this process, like npm start)
  --key KEY            its API key (default: AIPROC_API_KEY)
  --max-tokens N       max_tokens per answer (default: the server's AIPROC_MAX_TOKENS)
  --out DIR            where the report goes (default: ~/.cache/aiproc/eval/<timestamp>)
  --smoke              three questions on the small test model (SmolLM2-135M), for CI
  --rule VERSION_ID    check a stored rule instead: the shipped questions (--limit, default 6)
                       with the rule and without, on the server's rule check (POST /v1/eval/rule)
  -h, --help           this text

The last line printed is one JSON object: {"questions", "wins", "ties", "losses", …, "report"}.`;

const SMOKE_TOKENS = 64;

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      questions: { type: 'string' },
      limit: { type: 'string' },
      compare: { type: 'boolean' },
      baseline: { type: 'string' },
      judge: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      'max-tokens': { type: 'string' },
      out: { type: 'string' },
      smoke: { type: 'boolean' },
      rule: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.compare ? positionals.length !== 2 : positionals.length > 0)
    throw new ConfigError(values.compare ? `--compare takes two configurations, e.g. --compare stitch rewrite (got ${positionals.length})` : `unexpected argument "${positionals[0]}" (--help lists the options)`);
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--${name} must be a whole number of at least 1, not "${v}"`);
    return n;
  };
  return { ...values, pair: values.compare ? (positionals as [string, string]) : undefined, limit: int('limit', values.limit), maxTokens: int('max-tokens', values['max-tokens']) };
}

/**
 * Runs the eval as the command line says; returns the run and where its report is. A `backend`
 * passed in (tests) is used instead of starting one, and left open.
 * @example await main(['--compare', 'stitch', 'rewrite'])
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, deps: { backend?: Backend } = {}): Promise<{ run: EvalRun; report: string } | { rule: RuleTally } | null> {
  const args = parse(argv);
  if (args.help) {
    process.stdout.write(`${HELP}\n`);
    return null;
  }
  if (args.rule && (args.questions || args.pair || args.smoke || args.baseline))
    throw new ConfigError('--rule checks a rule on the shipped questions: it takes --limit, --judge, --max-tokens, --url and --key, not --questions, --compare, --baseline or --smoke');
  let questions = loadQuestions(resolve(args.questions ?? DEFAULT_QUESTIONS));
  if (args.smoke) questions = pickQuestions(questions, 3);
  if (args.limit) questions = questions.slice(0, args.limit);

  const scratch: string[] = [];
  let backend: Backend;
  if (deps.backend) {
    backend = deps.backend;
  } else if (args.url) {
    backend = await remoteBackend(args.url, args.key ?? env.AIPROC_API_KEY);
  } else {
    const overrides: NodeJS.ProcessEnv = {};
    if (args.smoke) {
      // The small test model, short answers everywhere (parts and the synthesis: the smoke checks
      // the machinery, not the answers), and a data folder of its own: CI's run leaves nothing behind.
      overrides.AIPROC_MODEL = await ensureTestModel(env);
      overrides.AIPROC_MAX_TOKENS = String(SMOKE_TOKENS);
      overrides.AIPROC_DATA_DIR = mkdtempSync(join(tmpdir(), 'aiproc-eval-'));
      scratch.push(overrides.AIPROC_DATA_DIR);
    }
    const settings = loadSettings({ ...env, ...overrides }, { dotenv: env === process.env });
    const log = createLogger(env.LOG_LEVEL ?? 'warn', { app: 'aiproc-eval' });
    backend = await embeddedBackend(settings, loadModelsConfig(settings.AIPROC_MODELS_FILE), log);
  }

  if (args.rule) {
    try {
      const opts = { ruleId: args.rule, questions: args.limit ?? 6, ...(args.judge && { judge: args.judge }), ...(args.maxTokens !== undefined && { maxTokens: args.maxTokens }) };
      return { rule: await checkRuleCommand(backend, opts) };
    } finally {
      if (!deps.backend) await backend.close();
    }
  }

  const bar = new cliProgress.SingleBar(
    { format: 'eval [{bar}] {value}/{total} steps | {eta_formatted} left | {what}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  try {
    const slugs = backend.models.map((m) => m.slug);
    const largest = largestModel(backend.models);
    const [a, b] = args.pair
      ? args.pair.map((s) => parseConfiguration(s, slugs))
      : [parseConfiguration('aiproc', slugs), parseConfiguration(args.baseline ?? largest, slugs)];
    const judge = args.judge ?? largest;
    const maxTokens = args.maxTokens ?? (args.smoke ? SMOKE_TOKENS : undefined);
    const needs = new Set([judge, ...[a!, b!].flatMap((c) => (c.model === 'aiproc' ? slugs : [c.model]))]);
    await backend.check([...needs]);

    process.stderr.write(`eval: ${questions.length} questions, A = ${a!.label}, B = ${b!.label}, judge ${judge}, on ${backend.describe}\n`);
    bar.start(questions.length * STEPS_PER_QUESTION, 0, { what: 'starting' });
    const run = await runEval({
      questions,
      a: a!,
      b: b!,
      client: () => backend.client,
      judge: backend.judge(judge),
      judgeName: judge,
      backend: backend.describe,
      ...(maxTokens !== undefined && { maxTokens }),
      onStep: (what) => bar.increment({ what }),
    });
    bar.stop();
    const out = resolve(args.out ?? join(homedir(), '.cache', 'aiproc', 'eval', run.startedAt.replace(/[:.]/g, '-')));
    const report = writeReport(run, out);
    const t = run.tally;
    process.stdout.write(
      [
        ...run.results.map((r) => `  ${r.verdict === 'win' ? 'A' : r.verdict === 'loss' ? 'B' : '='}  ${r.question.id}  (A ${(r.a.wallMs / 1000).toFixed(1)} s, B ${(r.b.wallMs / 1000).toFixed(1)} s)`),
        `A (${a!.label}) wins ${t.wins}, ties ${t.ties}, B (${b!.label}) wins ${t.losses}, of ${t.questions}${t.invalidVerdicts ? `; ${t.invalidVerdicts} judge replies were no verdict (ties)` : ''}${t.failedAnswers ? `; ${t.failedAnswers} answers failed` : ''}`,
        timeLine(run),
        `report: ${report}`,
        JSON.stringify({ ...t, a: a!.label, b: b!.label, judge, report }),
      ].join('\n') + '\n',
    );
    return { run, report };
  } finally {
    bar.stop();
    if (!deps.backend) await backend.close();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      // Bad input (a config, a file, an unknown option) is its message; anything else says it failed.
      const bad = err instanceof ConfigError || String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
      process.stderr.write(`eval: ${bad ? (err as Error).message : `failed: ${messageOf(err)}`}\n`);
      process.exit(1);
    },
  );
}
