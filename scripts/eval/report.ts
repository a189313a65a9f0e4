import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Answer } from '../../functions/eval/answer.ts';
import { chartSvg, esc } from './chart.ts';
import type { EvalRun, QuestionResult } from '../../functions/eval/run.ts';

const secs = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
const median = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor((s.length - 1) / 2)]!;
};
const VERDICT = { win: 'A wins', tie: 'tie', loss: 'B wins' } as const;

/**
 * One line for the terminal: A's and B's wall time over all questions, and their ratio.
 * @example timeLine(run) // 'A took 19.4 s in all, B 4.1 s (A/B = 4.71)'
 */
export function timeLine(run: EvalRun): string {
  const a = totals(run.results.map((r) => r.a)).wall;
  const b = totals(run.results.map((r) => r.b)).wall;
  return `A took ${(a / 1000).toFixed(1)} s in all, B ${(b / 1000).toFixed(1)} s${b > 0 ? ` (A/B = ${(a / b).toFixed(2)})` : ''}`;
}

function totals(answers: Answer[]) {
  return {
    wall: sum(answers.map((a) => a.wallMs)),
    firstToken: median(answers.flatMap((a) => (a.firstTokenMs === null ? [] : [a.firstTokenMs]))),
    tokens: sum(answers.map((a) => a.promptTokens + a.completionTokens)),
  };
}

function said(r: QuestionResult, i: 0 | 1): string {
  const o = r.judgement?.orders[i];
  if (!o) return 'not asked';
  if (o.said === null) return `no verdict (tie): ${cell((o.raw ?? '').slice(0, 120))}`;
  // Order 0 shows A first, order 1 shows B first: name the side, not the position.
  const side = o.said === 'tie' ? 'tie' : (o.said === '1') === (i === 0) ? 'A' : 'B';
  return `${side}${o.reason ? `: ${cell(o.reason.slice(0, 160))}` : ''}`;
}

/**
 * The run as Markdown: the tally, a table per question (verdict, what each order said, time,
 * first token, tokens), then both answers side by side.
 * @example writeFileSync('report.md', reportMarkdown(run))
 */
export function reportMarkdown(run: EvalRun): string {
  const t = run.tally;
  const ta = totals(run.results.map((r) => r.a));
  const tb = totals(run.results.map((r) => r.b));
  const lines = [
    `# aiproc eval: A = \`${run.a.label}\` vs B = \`${run.b.label}\``,
    '',
    `${run.startedAt} · backend: ${run.backend} · judge: \`${run.judge}\` (both orders; a tie when they disagree)`,
    '',
    `**A wins ${t.wins} · ties ${t.ties} · B wins ${t.losses}** of ${t.questions} questions` +
      (t.invalidVerdicts ? ` · ${t.invalidVerdicts} judge replies were no verdict (counted as ties)` : '') +
      (t.failedAnswers ? ` · ${t.failedAnswers} answers failed` : ''),
    '',
    '| | wall time (all questions) | median time to first token | tokens |',
    '| --- | --- | --- | --- |',
    `| A \`${run.a.label}\` | ${secs(ta.wall)} | ${secs(ta.firstToken)} | ${ta.tokens} |`,
    `| B \`${run.b.label}\` | ${secs(tb.wall)} | ${secs(tb.firstToken)} | ${tb.tokens} |`,
    '',
    tb.wall > 0 ? `A took ${(ta.wall / tb.wall).toFixed(2)}× the wall time of B.` : '',
    '',
    '![chart](chart.svg)',
    '',
    '## Per question',
    '',
    '| question | kind | verdict | judge, A shown first | judge, B shown first | A time | A first token | A tokens | B time | B first token | B tokens |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...run.results.map(
      (r) =>
        `| ${cell(r.question.id)} | ${r.question.kind} | ${VERDICT[r.verdict]} | ${said(r, 0)} | ${said(r, 1)} | ${secs(r.a.wallMs)} | ${secs(r.a.firstTokenMs)} | ${r.a.promptTokens + r.a.completionTokens} | ${secs(r.b.wallMs)} | ${secs(r.b.firstTokenMs)} | ${r.b.promptTokens + r.b.completionTokens} |`,
    ),
    '',
    '## Answers',
    '',
  ];
  for (const r of run.results) {
    const text = (a: Answer) => esc(a.error ? `(failed: ${a.error})` : a.content);
    lines.push(
      `### ${r.question.id} — ${VERDICT[r.verdict]}`,
      '',
      ...r.question.messages.map((m) => `> **${m.role}:** ${m.content.replace(/\n/g, '\n> ')}`),
      '',
      '<table><tr><th>A</th><th>B</th></tr><tr>',
      `<td valign="top"><pre>${text(r.a)}</pre></td>`,
      `<td valign="top"><pre>${text(r.b)}</pre></td>`,
      '</tr></table>',
      '',
    );
  }
  return lines.join('\n');
}

/**
 * Writes report.md, chart.svg and results.json into `dir` (created); returns the report's path.
 * @example const path = writeReport(run, join(homedir(), '.cache/aiproc/eval', stamp))
 */
export function writeReport(run: EvalRun, dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'chart.svg'), chartSvg(run));
  writeFileSync(join(dir, 'results.json'), JSON.stringify(run, null, 2));
  const report = join(dir, 'report.md');
  writeFileSync(report, reportMarkdown(run));
  return report;
}
