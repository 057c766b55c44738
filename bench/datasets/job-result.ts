/**
 * A result file from a benchmark job's stored task results, for a run stopped after its last task
 * but before its end (its final task inference not awaited): what split-cifar.bench.ts writes
 * at the end, less what only the end computes (task inference, the wall time of the whole job).
 *
 * Usage: npx tsx bench/datasets/job-result.ts <bench schema> <result name> "<note>"
 * (the schema of a running bench service, bench_<id>, holding one job). Writes
 * bench/results/<result name>.json.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { summarize } from '../../src/core/metrics/metrics.js';
import { machine, ROOT } from '../harness.js';

const [schema, name, note] = process.argv.slice(2);
if (!schema || !/^bench_[0-9a-f]+$/.test(schema) || !name || !note)
  throw new Error('usage: job-result.ts <bench_id schema> <result name> "<note>"');

const client = new pg.Client({
  connectionString:
    process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
});
await client.connect();
try {
  const jobs = await client.query<{
    id: string;
    spec: object;
    started_at: Date;
    tasks_total: number;
  }>(`select id, spec, started_at, tasks_total from ${schema}.jobs`);
  if (jobs.rows.length !== 1) throw new Error(`${schema} holds ${jobs.rows.length} jobs, not 1`);
  const job = jobs.rows[0];
  const rows = (
    await client.query<{
      task: number;
      accuracies: number[];
      running_stats_accuracies: number[] | null;
      duration_ms: number;
      ms_per_iteration: number;
      completed_at: Date;
    }>(
      `select task, accuracies, running_stats_accuracies, duration_ms, ms_per_iteration, completed_at
         from ${schema}.task_results where job_id = $1 order by task`,
      [job.id],
    )
  ).rows;
  if (rows.length !== job.tasks_total)
    throw new Error(`the job has finished ${rows.length} of its ${job.tasks_total} tasks`);
  const running = rows.every((r) => r.running_stats_accuracies)
    ? summarize(rows.map((r) => r.running_stats_accuracies!))
    : null;
  const last = rows[rows.length - 1];
  // The load when the file is written: the job started long before.
  const { loadAverageAtStart: loadAverageAtExtraction, ...host } = machine(os.loadavg()[0]);
  const out = {
    when: new Date().toISOString(),
    machine: { ...host, loadAverageAtExtraction },
    source: `job ${job.id} in schema ${schema}, extracted from its task results after its last task`,
    note,
    spec: job.spec,
    /** From the job's start to its last task's results (training and per-task evaluation). */
    wallMsToLastTask: last.completed_at.getTime() - job.started_at.getTime(),
    ...summarize(rows.map((r) => r.accuracies)),
    runningStats: running,
    msPerIteration: rows.map((r) => r.ms_per_iteration),
    taskDurationsMs: rows.map((r) => Math.round(r.duration_ms)),
  };
  const file = path.join(ROOT, 'bench', 'results', `${name}.json`);
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path.relative(ROOT, file)}`);
} finally {
  await client.end();
}
