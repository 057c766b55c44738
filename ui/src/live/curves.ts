/** Training curves as the page keeps them: points of one kind, merged from the metrics endpoint and the stream. */
import type { CurvePoint } from '../api/types.js';

/**
 * `current` with `incoming` added, one point per (task, iteration), ordered by task then
 * iteration. The stream replays what the metrics endpoint already gave; merging makes that harmless.
 */
export function mergePoints(current: CurvePoint[], incoming: CurvePoint[]): CurvePoint[] {
  const byKey = new Map<string, CurvePoint>();
  for (const p of current) byKey.set(`${p.task}:${p.iteration}`, p);
  for (const p of incoming) byKey.set(`${p.task}:${p.iteration}`, p);
  return [...byKey.values()].sort((a, b) => a.task - b.task || a.iteration - b.iteration);
}

/**
 * uPlot's aligned columns: x is the iteration counted over the whole job (task t starts at
 * t * iterationsPerTask), then one column per task, null where that task has no point.
 */
export function alignByTask(
  points: CurvePoint[],
  iterationsPerTask: number,
  tasks: number,
): [number[], ...(number | null)[][]] {
  const xs = [...new Set(points.map((p) => p.task * iterationsPerTask + p.iteration))].sort(
    (a, b) => a - b,
  );
  const row = new Map(xs.map((x, i) => [x, i]));
  const columns = Array.from({ length: tasks }, () =>
    new Array<number | null>(xs.length).fill(null),
  );
  for (const p of points)
    if (p.task < tasks)
      columns[p.task][row.get(p.task * iterationsPerTask + p.iteration)!] = p.value;
  return [xs, ...columns];
}
