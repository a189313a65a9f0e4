import type { EvalRun } from '../../functions/eval/run.ts';

/** Text for HTML or SVG: `&`, `<`, `>` and `"` escaped. */
export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const clip = (s: string, n: number) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};
const MARK = { win: ['A', '#2e7d32'], tie: ['=', '#757575'], loss: ['B', '#c62828'] } as const;

/**
 * An SVG chart of a run: per question the verdict, A's and B's wall time as bars (the darker
 * start of a bar is the time to the first token), and the start of both answers side by side.
 * @example writeFileSync(join(dir, 'chart.svg'), chartSvg(run))
 */
export function chartSvg(run: EvalRun): string {
  const rowH = 58;
  const top = 64;
  const labelW = 210;
  const barW = 300;
  const textX = labelW + barW + 90;
  const width = textX + 2 * 330;
  const height = top + run.results.length * rowH + 20;
  const max = Math.max(1, ...run.results.flatMap((r) => [r.a.wallMs, r.b.wallMs]));
  const t = run.tally;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(`A = ${run.a.label}  vs  B = ${run.b.label}  (judge ${run.judge})`)}</text>`,
    `<text x="10" y="42">${esc(`A wins ${t.wins} · ties ${t.ties} · B wins ${t.losses} of ${t.questions}; bars: wall time, darker = time to first token`)}</text>`,
    `<text x="${textX}" y="${top - 6}" font-weight="bold">A's answer</text><text x="${textX + 330}" y="${top - 6}" font-weight="bold">B's answer</text>`,
  ];
  run.results.forEach((r, i) => {
    const y = top + i * rowH;
    const [mark, colour] = MARK[r.verdict];
    out.push(`<rect x="6" y="${y + 6}" width="18" height="18" rx="3" fill="${colour}"/><text x="15" y="${y + 19}" fill="#fff" text-anchor="middle" font-weight="bold">${mark}</text>`);
    out.push(`<text x="30" y="${y + 19}">${esc(clip(r.question.id, 28))}</text><text x="30" y="${y + 36}" fill="#757575">${r.question.kind}</text>`);
    for (const [j, side, fill, dark] of [
      [0, r.a, '#90caf9', '#1565c0'],
      [1, r.b, '#ffcc80', '#e65100'],
    ] as const) {
      const by = y + 4 + j * 22;
      const w = Math.max(1, (side.wallMs / max) * barW);
      const f = side.firstTokenMs === null ? 0 : Math.min(w, (side.firstTokenMs / max) * barW);
      out.push(`<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="18" fill="${fill}"/><rect x="${labelW}" y="${by}" width="${f.toFixed(1)}" height="18" fill="${dark}"/>`);
      out.push(`<text x="${labelW + w + 4}" y="${by + 13}">${j === 0 ? 'A' : 'B'} ${side.error ? 'failed' : secs(side.wallMs)}</text>`);
      out.push(`<text x="${textX + j * 330}" y="${y + 19}" fill="#333">${esc(clip(side.error ? `(failed: ${side.error})` : side.content, 52))}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n');
}
