/**
 * A private copy of the service for a benchmark, as in production: the API (and optionally a
 * training worker) as their own processes on loopback, a private Postgres schema and queue, and an
 * API key. `stop()` ends the processes and drops the schema.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { loadEnv, type Config } from '../src/config/env.js';
import { PrismaApiKeyRepository } from '../src/infra/prisma/api-key.repository.js';
import { createPgPool, createPrismaClient, type Db } from '../src/infra/prisma/client.js';
import { dropSchema, migrate } from '../src/infra/prisma/migrator.js';
import { ApiKeyService } from '../src/services/auth/api-key.service.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchService {
  base: string;
  config: Config;
  /** Pid of the API process (to sample its memory). */
  apiPid: number;
  /** The API key, and headers carrying it. */
  key: string;
  auth: { authorization: string };
  /** A pg pool on the private schema, for direct measurements. */
  pool: pg.Pool;
  stop(): Promise<void>;
}

/** The machine as a result file records it; take `loadAverage` before the benchmark starts. */
export function machine(loadAverage: number) {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: loadAverage,
  };
}

/** A private, migrated Postgres schema alone (benchmarks of the storage layer); `stop()` drops it. */
export async function startBenchDatabase(): Promise<{
  config: Config;
  pool: pg.Pool;
  db: Db;
  stop: () => Promise<void>;
}> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const config = loadEnv({
    ...process.env,
    DATABASE_URL: `${process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'}?schema=${schema}`,
  });
  await migrate({ url: config.databaseUrl, schema, dir: path.join(ROOT, 'prisma', 'migrations') });
  const pool = createPgPool({ url: config.databaseUrl, schema, poolSize: 4 });
  const db = createPrismaClient({ url: config.databaseUrl, schema, pool });
  return {
    config,
    pool,
    db,
    async stop() {
      await db.$disconnect();
      await pool.end();
      await dropSchema(config.databaseUrl, schema);
    },
  };
}

export async function startBenchService(opts: {
  port: number;
  worker: boolean;
  env?: Record<string, string>;
}): Promise<BenchService> {
  const id = randomBytes(4).toString('hex');
  const schema = `bench_${id}`;
  const env = {
    DATABASE_URL: `${process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'}?schema=${schema}`,
    QUEUE_NAME: `bench-${id}`,
    LOG_LEVEL: 'silent',
    RECONCILE_INTERVAL_MS: '0',
    RETAIN_BACKEND: process.env.RETAIN_BACKEND ?? 'wasm',
    ...opts.env,
  };
  const config = loadEnv({ ...process.env, ...env });
  await migrate({ url: config.databaseUrl, schema, dir: path.join(ROOT, 'prisma', 'migrations') });
  const children: ChildProcess[] = [];
  const start = (file: string, extra: Record<string, string> = {}) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, file)], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...extra },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    return child;
  };
  const api = start('src/http/server.ts', { PORT: String(opts.port), HOST: '127.0.0.1' });
  if (opts.worker) start('workers/training.worker.ts');
  const pool = createPgPool({ url: config.databaseUrl, schema, poolSize: 2 });
  const db = createPrismaClient({ url: config.databaseUrl, schema, pool });
  const stop = async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map(
        (c) =>
          new Promise((r) =>
            c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r),
          ),
      ),
    );
    await db.$disconnect();
    await pool.end();
    await dropSchema(config.databaseUrl, schema);
  };
  try {
    const base = `http://127.0.0.1:${opts.port}`;
    for (
      let tries = 0;
      !(await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ));
      tries++
    ) {
      if (tries > 300) throw new Error('the API did not become ready within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const { key } = await new ApiKeyService(new PrismaApiKeyRepository(db)).create('bench');
    return {
      base,
      config,
      apiPid: api.pid!,
      key,
      auth: { authorization: `Bearer ${key}` },
      pool,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
