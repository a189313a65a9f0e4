import type { Logger } from '../lib/log.ts';

/** The longest chain of parts waiting on each other: a part at depth 3 waits for two others in turn. */
export const MAX_DEPTH = 3;

/**
 * Makes a plan's `after` lists safe to run: references to parts that do not exist, to the part
 * itself, or that would close a cycle or make a chain longer than `maxDepth` are dropped (each
 * logged), so every part can start eventually and no job waits for ever. `after[i]` are the
 * indexes part i waits for; the result has the same shape, sorted, without repeats.
 * @example repairDependencies([[1], [0]], log) // [[1], []] (the cycle's second edge dropped)
 */
export function repairDependencies(after: number[][], log: Logger, maxDepth = MAX_DEPTH): number[][] {
  const n = after.length;
  const kept: number[][] = after.map(() => []);
  const dropped: string[] = [];
  // Does `from` (transitively) wait for `to`?
  const waitsFor = (from: number, to: number, seen = new Set<number>()): boolean => {
    if (from === to) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return kept[from]!.some((d) => waitsFor(d, to, seen));
  };
  const depth = (i: number): number => 1 + Math.max(0, ...kept[i]!.map(depth));
  // Longest chain through the edge i→j: what waits on i, plus i, plus j's own chain.
  const above = (i: number): number => 1 + Math.max(0, ...kept.map((deps, k) => (deps.includes(i) ? above(k) : 0)));
  after.forEach((deps, i) => {
    for (const j of [...new Set(deps)]) {
      if (!Number.isInteger(j) || j < 0 || j >= n) dropped.push(`part ${i + 1} after part ${j + 1}: no such part`);
      else if (j === i) dropped.push(`part ${i + 1} after itself`);
      else if (waitsFor(j, i)) dropped.push(`part ${i + 1} after part ${j + 1}: a cycle`);
      else if (above(i) + depth(j) > maxDepth) dropped.push(`part ${i + 1} after part ${j + 1}: chain longer than ${maxDepth}`);
      else kept[i]!.push(j);
    }
  });
  if (dropped.length) log.warn({ dropped }, 'plan: dropped dependencies that cannot run');
  return kept.map((d) => d.sort((a, b) => a - b));
}
