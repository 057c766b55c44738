/**
 * Service benchmarks (loopback only, every load bounded in time and connections):
 *   1. job submission: POST /v1/jobs throughput and latency (autocannon, no worker attached)
 *   2. status polls: GET /v1/jobs/:id latency
 *   3. end to end with a real worker on real Fashion-MNIST, split-mnist preset
 *      (BENCH_ITERATIONS per task, default 30): time from POST to the first training iteration
 *      (cold: first job of a fresh worker; warm: the next job), where the job's wall time went
 *      (engine vs. store writes vs. the rest), and per task the mask and model download time
 *      and size.
 * Writes bench/results/service.json. Usage: npx tsx bench/service/service.bench.ts
 * Uses a private Postgres schema and queue, removed at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { loadEnv } from '../../src/config/env.js';
import { createApiContext } from '../../src/http/context.js';
import { PrismaApiKeyRepository } from '../../src/infra/prisma/api-key.repository.js';
import { createPrismaClient } from '../../src/infra/prisma/client.js';
import { dropSchema, migrate } from '../../src/infra/prisma/migrator.js';
import { ApiKeyService } from '../../src/services/auth/api-key.service.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** BENCH_HTTP_ONLY=1: only the HTTP part, results printed, nothing written. */
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 30);
const id = randomBytes(4).toString('hex');
const schema = `bench_${id}`;
const env = {
  DATABASE_URL: `${process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'}?schema=${schema}`,
  QUEUE_NAME: `bench-${id}`,
  LOG_LEVEL: 'silent',
  RETAIN_BACKEND: process.env.RETAIN_BACKEND ?? 'auto',
  PROGRESS_THROTTLE_MS: '1000',
};
const config = loadEnv({ ...process.env, ...env });
await migrate({ url: config.databaseUrl, schema, dir: path.join(root, 'prisma', 'migrations') });
// The API runs as its own process (as in production), so the load generator does not share its event loop.
const ctx = createApiContext(config);
const port = Number(process.env.BENCH_PORT ?? 3917);
const base = `http://127.0.0.1:${port}`;
const api = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'src', 'http', 'server.ts')],
  {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
for (;;) {
  if (
    await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  await new Promise((r) => setTimeout(r, 200));
}
const db = createPrismaClient({ url: config.databaseUrl, schema, poolSize: 2 });
const { key } = await new ApiKeyService(new PrismaApiKeyRepository(db)).create('bench');
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const pct = (r: autocannon.Result) => ({
  requestsPerSecond: Math.round(r.requests.average),
  latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
  requests: r.requests.total,
  non2xx: r.non2xx,
  errors: r.errors,
  connections: r.connections,
  durationS: r.duration,
});
const run = (opts: autocannon.Options) => autocannon({ duration: DURATION_S, ...opts });
const log = (msg: string) => console.log(`[bench] ${msg}`);

const tiny = {
  benchmark: { dataset: 'mnist', tasks: 2, trainLimit: 100, testLimit: 50, validationSize: 10 },
  network: { hidden: [16] },
  hypernetwork: { hidden: [8], embeddingDim: 8 },
  training: { iterationsPerTask: 10 },
};
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  notes: 'loopback only; API process, load generator, Postgres and Redis share the 2 cores',
  loadAverageAtStart: os.loadavg().map((v) => +v.toFixed(2)),
};

try {
  // Warm up connections and JIT.
  await run({
    url: `${base}/v1/jobs`,
    method: 'POST',
    headers,
    body: JSON.stringify(tiny),
    connections: 10,
    duration: 2,
  });

  log(`submissions: ${DURATION_S}s, 32 connections`);
  const submit = await run({
    url: `${base}/v1/jobs`,
    method: 'POST',
    headers,
    body: JSON.stringify(tiny),
    connections: 32,
  });
  result.submission = pct(submit);
  log(JSON.stringify(result.submission));

  const one = await (
    await fetch(`${base}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(tiny) })
  ).json();
  // Latency at a moderate load (8 clients polling back to back) and at a heavy one (32).
  for (const connections of [8, 32]) {
    log(`status polls: ${DURATION_S}s, ${connections} connections`);
    const poll = await run({
      url: `${base}/v1/jobs/${one.id}`,
      headers: { authorization: headers.authorization },
      connections,
    });
    result[`statusPoll${connections}`] = pct(poll);
    log(JSON.stringify(result[`statusPoll${connections}`]));
  }
  if (process.env.BENCH_HTTP_ONLY) throw new Error('BENCH_HTTP_ONLY: stopping after the HTTP part');
  // Nothing of the above is to be trained.
  await ctx.queue.queue.obliterate({ force: true });

  // ---- end to end with a real worker ----
  const worker = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'workers', 'training.worker.ts')],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  worker.stdout.on('data', (c) => (out += c));
  worker.stderr.on('data', (c) => (out += c));
  while (!/ready: queue/.test(out)) await new Promise((r) => setTimeout(r, 100));

  const e2e: Record<string, unknown>[] = [];
  for (const label of ['cold', 'warm']) {
    const spec = {
      preset: 'split-mnist',
      benchmark: { dataset: 'fashion-mnist' },
      training: { iterationsPerTask: ITERATIONS },
    };
    const posted = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify(spec),
    });
    const job = await posted.json();
    log(`${label} job ${job.id}: split-mnist preset, ${ITERATIONS} iterations per task`);
    let j = job;
    while (!['succeeded', 'failed', 'cancelled'].includes(j.status)) {
      await new Promise((r) => setTimeout(r, 500));
      j = await (await fetch(`${base}/v1/jobs/${job.id}`, { headers })).json();
    }
    if (j.status !== 'succeeded')
      throw new Error(`job ${j.status}: ${JSON.stringify(j.error)}\n${out}`);
    const row = await db.job.findUniqueOrThrow({ where: { id: job.id } });
    const bull = await ctx.queue.queue.getJob(job.id);
    const stats = (bull?.returnvalue as { stats?: Record<string, number> } | undefined)?.stats;
    const metrics = await (await fetch(`${base}/v1/jobs/${job.id}/metrics`, { headers })).json();
    const wallMs = row.finishedAt!.getTime() - row.createdAt.getTime();
    const engineMs = metrics.taskDurationsMs.reduce((a: number, b: number) => a + b, 0);
    const entry: Record<string, unknown> = {
      label,
      backend: j.backend,
      iterationsPerTask: ITERATIONS,
      msPerIteration: metrics.msPerIteration,
      postToFirstIterationMs: row.firstIterationAt!.getTime() - row.createdAt.getTime(),
      wallMs,
      engineTaskMs: Math.round(engineMs),
      workerStats: stats,
      averageAccuracy: metrics.averageAccuracy,
    };
    if (stats) {
      // Projection for the full preset (2000 iterations per task) on this backend, with the same
      // fixed per-job and per-task costs: what fraction of a real job's wall time is service work?
      const msPerIt =
        metrics.msPerIteration.reduce((a: number, b: number) => a + b, 0) /
        metrics.msPerIteration.length;
      const evalAndMisc = engineMs - msPerIt * ITERATIONS * metrics.msPerIteration.length;
      const serviceMs = stats.storeMs + (entry.postToFirstIterationMs as number);
      const presetWall = msPerIt * 2000 * 5 + evalAndMisc + (wallMs - engineMs);
      entry.serviceMs = Math.round(serviceMs);
      entry.serviceShareOfThisRun = +(serviceMs / wallMs).toFixed(4);
      entry.projectedServiceShareFullPreset = +(serviceMs / presetWall).toFixed(4);
    }
    if (label === 'warm') {
      const downloads = [];
      for (let t = 0; t < 5; t++) {
        const time = async (url: string) => {
          const t0 = performance.now();
          const res = await fetch(`${base}${url}`, { headers });
          const bytes = (await res.arrayBuffer()).byteLength;
          return { status: res.status, bytes, ms: +(performance.now() - t0).toFixed(1) };
        };
        downloads.push({
          task: t,
          mask: await time(`/v1/jobs/${job.id}/tasks/${t}/mask`),
          modelJson: await time(`/v1/jobs/${job.id}/tasks/${t}/model/model.json`),
          weights: await time(`/v1/jobs/${job.id}/tasks/${t}/model/weights.bin`),
        });
      }
      entry.downloads = downloads;
    }
    log(JSON.stringify(entry));
    e2e.push(entry);
  }
  result.endToEnd = e2e;
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
} finally {
  api.kill('SIGTERM');
  await new Promise((r) => api.once('exit', r));
  await ctx.queue.queue.obliterate({ force: true }).catch(() => {});
  await ctx.close();
  await db.$disconnect();
  await dropSchema(config.databaseUrl, schema);
}

const target = {
  submissionsPerSecondAtLeast: 1000,
  statusPollP99MsUnder: 20,
  serviceOverheadShareUnder: 0.01,
};
result.targets = target;
result.loadAverageAtEnd = os.loadavg().map((v) => +v.toFixed(2));
await mkdir(path.join(root, 'bench', 'results'), { recursive: true });
await writeFile(
  path.join(root, 'bench', 'results', 'service.json'),
  `${JSON.stringify(result, null, 2)}\n`,
);
log('wrote bench/results/service.json');
process.exit(0);
