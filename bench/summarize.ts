/**
 * Collects engine benchmark runs (runs/bench/<name>/result.json, written by `npm run train`) into
 * bench/results/engine-<name>.json (without the per-iteration curves) and prints a Markdown table
 * for bench/README.md. Partial runs (a result.json written after some tasks) are marked as such.
 * usage: npx tsx bench/summarize.ts [runs/bench]
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const dir = process.argv[2] ?? 'runs/bench';
const pct = (v: number | null | undefined) =>
  v === null || v === undefined ? 'n/a' : (100 * v).toFixed(2);
const rows: string[] = [];
for (const name of (await readdir(dir, { withFileTypes: true }))
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()) {
  let r;
  try {
    r = JSON.parse(await readFile(path.join(dir, name, 'result.json'), 'utf8'));
  } catch {
    continue;
  }
  const { curves, exports: _exports, checkpoint: _checkpoint, ...summary } = r;
  const validation = (curves?.validation ?? []) as {
    task: number;
    iteration: number;
    accuracy: number;
  }[];
  const out = {
    name,
    ...summary,
    finalValidationAccuracy: validation.filter(
      (v, i, a) => i === a.length - 1 || a[i + 1].task !== v.task,
    ),
  };
  await writeFile(`bench/results/engine-${name}.json`, JSON.stringify(out, null, 2));
  const a: number[][] = r.accuracyMatrix;
  const tasksDone = a.length;
  rows.push(
    `| ${name}${r.complete ? '' : ` (partial: ${tasksDone}/${r.spec.benchmark.tasks} tasks)`} | ${r.spec.method} | ${r.spec.training.iterationsPerTask} | ${r.backend} | ${pct(r.averageAccuracy)} | ${a[tasksDone - 1].map(pct).join(', ')} | ${pct(r.backwardTransfer)} | ${pct(r.forgetting)} | ${r.msPerIteration.map((v: number) => v.toFixed(0)).join(', ')} | ${r.taskInference ? `${pct(r.taskInference.taskAccuracy)} / ${pct(r.taskInference.classAccuracy)}` : 'n/a'} |`,
  );
}
console.log(
  '| run | method | it/task | backend | avg acc % | last row % | BWT pp | forgetting pp | ms/it per task | entropy task / class % |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));
