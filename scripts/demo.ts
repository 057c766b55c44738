/**
 * The demo behind `bash scripts/setup.sh`: starts the API and a worker, creates an API key,
 * submits a Split Fashion-MNIST job (the split-mnist preset; DEMO_ITERATIONS per task, default
 * 500; or the spec in the file DEMO_SPEC), follows its progress to the end, prints the accuracy
 * matrix and the mask and model URLs, and stops both processes. Logs: runs/demo/*.log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../src/cli/duration.js';
import { loadEnv } from '../src/config/env.js';
import type { JobMetrics, JobResource } from '../src/http/routes/jobs/schemas.js';
import { PrismaApiKeyRepository } from '../src/infra/prisma/api-key.repository.js';
import { createPrismaClient } from '../src/infra/prisma/client.js';
import { ApiKeyService } from '../src/services/auth/api-key.service.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = loadEnv();
const base = `http://127.0.0.1:${config.PORT}`;
const logDir = path.join(root, 'runs', 'demo');
await mkdir(logDir, { recursive: true });

const children: ChildProcess[] = [];
function start(name: string, file: string): ChildProcess {
  const log = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(
        `\n${name} exited unexpectedly (${code ?? signal}); see ${path.relative(process.cwd(), path.join(logDir, `${name}.log`))}`,
      );
      process.exit(1);
    }
  });
  children.push(child);
  return child;
}
let stopping = false;
async function stopAll() {
  stopping = true;
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => (c.once('exit', r), c.kill('SIGTERM'))),
    ),
  );
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmtMs = (ms: number | null) => (ms === null ? '?' : formatDuration(ms));

try {
  const db = createPrismaClient({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    poolSize: 1,
  });
  const { key } = await new ApiKeyService(new PrismaApiKeyRepository(db)).create('demo');
  await db.$disconnect();
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  start('api', 'src/http/server.ts');
  start('worker', 'workers/training.worker.ts');
  for (;;) {
    const ok = await fetch(`${base}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    await sleep(300);
  }
  console.log(`API ready at ${base} (docs: ${base}/docs); API key for tenant "demo": ${key}`);

  const spec = process.env.DEMO_SPEC
    ? (JSON.parse(await readFile(process.env.DEMO_SPEC, 'utf8')) as Record<string, unknown>)
    : {
        preset: 'split-mnist',
        benchmark: { dataset: 'fashion-mnist' },
        training: { iterationsPerTask: Number(process.env.DEMO_ITERATIONS ?? 500) },
      };
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ ...spec, name: 'demo: Split Fashion-MNIST' }),
  });
  const created = (await res.json()) as JobResource;
  if (res.status !== 201)
    throw new Error(`submitting failed: ${res.status} ${JSON.stringify(created)}`);
  console.log(
    `job ${created.id}: ${created.spec.method}, ${created.progress.tasksTotal} tasks x ${created.progress.iterationsPerTask} iterations`,
  );

  let job = created;
  let last = '';
  const started = Date.now();
  while (!['succeeded', 'failed', 'cancelled'].includes(job.status)) {
    await sleep(2000);
    job = (await (await fetch(`${base}/v1/jobs/${created.id}`, { headers })).json()) as JobResource;
    const p = job.progress;
    const line =
      job.status === 'running' && p.currentTask !== null
        ? `running on ${job.backend}: task ${p.currentTask + 1}/${p.tasksTotal}, iteration ${p.iteration}/${p.iterationsPerTask}, ${Math.round(p.fraction * 100)}% done, ETA ${fmtMs(p.etaMs)}`
        : `${job.status} (${p.completedTasks}/${p.tasksTotal} tasks done)`;
    if (line !== last) console.log(`[${fmtMs(Date.now() - started)}] ${line}`);
    last = line;
  }
  if (job.status !== 'succeeded')
    throw new Error(`job ${job.status}: ${JSON.stringify(job.error)}`);

  const m = (await (
    await fetch(`${base}/v1/jobs/${created.id}/metrics`, { headers })
  ).json()) as JobMetrics;
  console.log(
    `\nAccuracy matrix (row k: test accuracy on tasks 1..k after training task k), backend ${job.backend}:`,
  );
  console.log(
    `          ${m.accuracyMatrix.map((_: unknown, j: number) => `task ${j + 1}`.padStart(8)).join('')}`,
  );
  m.accuracyMatrix.forEach((row: number[], k: number) =>
    console.log(
      `after ${String(k + 1).padStart(2)}  ${row.map((a) => `${(a * 100).toFixed(1)}%`.padStart(8)).join('')}`,
    ),
  );
  console.log(
    `average accuracy ${((m.averageAccuracy ?? 0) * 100).toFixed(2)}%, backward transfer ${m.backwardTransfer?.toFixed(4)}, forgetting ${m.forgetting?.toFixed(4)}`,
  );
  // With the task id unknown: which task (and class) each test input is given, by each rule.
  for (const [rule, r] of [
    ['entropy', m.taskInference],
    ['FeCAM', m.fecamTaskInference],
  ] as const)
    if (r)
      console.log(
        `task inference by ${rule}: ${(r.taskAccuracy * 100).toFixed(1)}% tasks, ${(r.classAccuracy * 100).toFixed(1)}% classes`,
      );
  console.log(
    `total ${fmtMs(Date.now() - started)} from submission\n\nPer-task downloads (send "Authorization: Bearer ${key}"):`,
  );
  for (const t of job.links.tasks)
    console.log(
      `  task ${t.task}: mask ${t.mask ? base + t.mask : '(none)'}\n          model ${base}${t.model}`,
    );
  console.log(
    `\ne.g. curl -H "Authorization: Bearer ${key}" -o mask.safetensors ${base}${job.links.tasks[0].mask ?? job.links.tasks[0].model}`,
  );
} finally {
  await stopAll();
}
