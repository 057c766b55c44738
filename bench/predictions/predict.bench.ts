/**
 * Prediction latency through the real API process (loopback only): a split-mnist preset job
 * (HyperMask, 5 tasks, MLP 784-400-400-2) is trained by a real worker on Fashion-MNIST with few
 * iterations (latency does not depend on accuracy), then POST /v1/jobs/:id/predict is timed,
 * one request at a time: 1 input and 100 inputs, with a task id and without (entropy over all 5
 * task models). The first request (cold: models fetched from Postgres and built) is reported
 * apart. Writes bench/results/predict.json. Usage: npx tsx bench/predictions/predict.bench.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../../src/config/env.js';
import { loadRawDataset, resolveDataDir } from '../../src/infra/data/dataset-files.js';
import { PrismaApiKeyRepository } from '../../src/infra/prisma/api-key.repository.js';
import { createPrismaClient } from '../../src/infra/prisma/client.js';
import { dropSchema, migrate } from '../../src/infra/prisma/migrator.js';
import { ApiKeyService } from '../../src/services/auth/api-key.service.js';

const loadAverageAtStart = os.loadavg()[0];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const id = randomBytes(4).toString('hex');
const schema = `bench_${id}`;
const env = {
  DATABASE_URL: `${process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'}?schema=${schema}`,
  QUEUE_NAME: `bench-${id}`,
  LOG_LEVEL: 'silent',
  RECONCILE_INTERVAL_MS: '0',
  RETAIN_BACKEND: 'wasm',
};
const config = loadEnv({ ...process.env, ...env });
await migrate({ url: config.databaseUrl, schema, dir: path.join(root, 'prisma', 'migrations') });
const port = Number(process.env.BENCH_PORT ?? 3919);
const base = `http://127.0.0.1:${port}`;
const children: ChildProcess[] = [];
const start = (file: string, extra: Record<string, string> = {}) => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, file)], { cwd: root, env: { ...process.env, ...env, ...extra }, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
};
const api = start('src/http/server.ts', { PORT: String(port), HOST: '127.0.0.1' });
start('workers/training.worker.ts');
const db = createPrismaClient({ url: config.databaseUrl, schema, poolSize: 2 });

try {
  for (let tries = 0; !(await fetch(`${base}/readyz`).then((r) => r.ok, () => false)); tries++) {
    if (tries > 300) throw new Error('the API did not become ready within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const { key } = await new ApiKeyService(new PrismaApiKeyRepository(db)).create('bench');
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const job = await (await fetch(`${base}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ preset: 'split-mnist', training: { iterationsPerTask: 20 }, evaluation: { taskInference: false } }) })).json();
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const j = await (await fetch(`${base}/v1/jobs/${job.id}`, { headers })).json();
    if (j.status === 'succeeded') break;
    if (j.status === 'failed' || Date.now() > deadline) throw new Error(`training did not succeed: ${JSON.stringify(j.error ?? j.status)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const raw = await loadRawDataset('fashion-mnist', resolveDataDir(undefined));
  const pixels = raw.test.rows * raw.test.cols;
  const image = (i: number) => Array.from(raw.test.images.subarray(i * pixels, (i + 1) * pixels));
  const batch = Array.from({ length: 100 }, (_, i) => image(i));

  async function time(body: object): Promise<number> {
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/jobs/${job.id}/predict`, { method: 'POST', headers, body: JSON.stringify(body) });
    await res.json();
    if (res.status !== 200) throw new Error(`predict answered ${res.status}`);
    return performance.now() - t0;
  }
  const quantile = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const round = (x: number) => Math.round(x * 10) / 10;
  const cases = {
    '1 input, task given': { inputs: [image(0)], task: 2 },
    '1 input, task inferred': { inputs: [image(0)] },
    '100 inputs, task given': { inputs: batch, task: 2 },
    '100 inputs, task inferred': { inputs: batch },
  };
  const coldMs = round(await time(cases['1 input, task inferred']));
  const results: Record<string, { requests: number; p50Ms: number; p99Ms: number; maxMs: number }> = {};
  for (const [name, body] of Object.entries(cases)) {
    const ms: number[] = [];
    for (let i = 0; i < REQUESTS; i++) ms.push(await time({ ...body, inputs: (body.inputs as number[][]).map((row, r) => (r === 0 ? image(i % 500) : row)) }));
    ms.sort((a, b) => a - b);
    results[name] = { requests: REQUESTS, p50Ms: round(quantile(ms, 0.5)), p99Ms: round(quantile(ms, 0.99)), maxMs: round(ms[ms.length - 1]) };
    console.log(name, JSON.stringify(results[name]));
  }
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadAverageAtStart },
    setup: 'split-mnist preset, hypermask, 5 tasks, MLP 784-400-400-2, trained 20 iterations per task on Fashion-MNIST; prediction thread on wasm; sequential requests over loopback HTTP (JSON body of raw 0-255 pixels)',
    coldFirstRequestMs: coldMs,
    latency: results,
  };
  await writeFile(path.join(root, 'bench', 'results', 'predict.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log('wrote bench/results/predict.json');
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await db.$disconnect();
  await dropSchema(config.databaseUrl, schema);
  void api;
}
