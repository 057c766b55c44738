/**
 * A private copy of the service for one test file: its own Postgres schema (migrated with the
 * real migrations), its own BullMQ queue name, its own data directory with a tiny synthetic
 * "mnist", an app built with `buildApp`, and worker processes started as the real entry point.
 * `close()` removes all of it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { loadEnv, type Config } from '../../src/config/env.js';
import { writeIdxDataset } from '../../src/infra/data/dataset-files.js';
import { PrismaApiKeyRepository } from '../../src/infra/prisma/api-key.repository.js';
import type pg from 'pg';
import { createPgPool, createPrismaClient, type Db } from '../../src/infra/prisma/client.js';
import { dropSchema, migrate } from '../../src/infra/prisma/migrator.js';
import { buildApp } from '../../src/http/app.js';
import { createApiContext, type ApiContext } from '../../src/http/context.js';
import { ApiKeyService } from '../../src/services/auth/api-key.service.js';
import { makeRawDataset } from './datasets.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A spec that trains in a second or two on the synthetic data. */
export function tinySpec(
  overrides: { iterationsPerTask?: number; tasks?: number; seed?: number; method?: string } = {},
) {
  return {
    method: overrides.method ?? 'hypermask',
    benchmark: {
      dataset: 'mnist',
      tasks: overrides.tasks ?? 2,
      classesPerTask: 2,
      trainLimit: 100,
      testLimit: 60,
      validationSize: 20,
      augment: false,
    },
    network: { hidden: [16] },
    hypernetwork: { hidden: [8], embeddingDim: 8 },
    training: {
      iterationsPerTask: overrides.iterationsPerTask ?? 40,
      batchSize: 32,
      validationEvery: 10,
      seed: overrides.seed ?? 3,
    },
    evaluation: { taskInference: false },
  };
}

/** A process started from one of the service's entry points (a worker, the API). */
export interface WorkerHandle {
  process: ChildProcess;
  output(): string;
  /** Resolves when the worker has printed `pattern`; rejects if it exits first or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface TestService {
  config: Config;
  env: Record<string, string>;
  app: FastifyInstance;
  ctx: ApiContext;
  db: Db;
  /** The pg pool behind `db`. */
  pool: pg.Pool;
  /** Creates a tenant and returns an Authorization header value for it. */
  auth(tenant: string): Promise<string>;
  startWorker(extraEnv?: Record<string, string>): Promise<WorkerHandle>;
  /**
   * The API as its own process (src/http/server.ts: the periodic reconciler and retention run
   * there, not in `app`), on the same schema and queue, listening on a free loopback port.
   */
  startApi(extraEnv?: Record<string, string>): Promise<WorkerHandle & { base: string }>;
  /** Starts the webhook worker (workers/webhook.worker.ts), as `npm start` does. */
  startWebhookWorker(extraEnv?: Record<string, string>): Promise<WorkerHandle>;
  /**
   * Starts `node ...args` in `cwd` on the same schema and queues (the production build's
   * commands) and waits for `ready`.
   */
  startCommand(
    args: string[],
    opts: { cwd: string; ready: RegExp; env?: Record<string, string> },
  ): Promise<WorkerHandle>;
  close(): Promise<void>;
}

/**
 * @param opts.databasePort reach Postgres on this local port instead (a relay the test controls).
 */
export async function createTestService(
  label: string,
  envOverrides: Record<string, string> = {},
  opts: { databasePort?: number } = {},
): Promise<TestService> {
  const id = `${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const schema = `test_${id}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'retain-test-'));
  const raw = makeRawDataset({ trainCount: 600, testCount: 300, seed: 5, name: 'mnist' });
  await writeIdxDataset(dataDir, 'mnist', raw);
  const env: Record<string, string> = {
    DATABASE_URL: `${opts.databasePort ? withPort(BASE_URL, opts.databasePort) : BASE_URL}?schema=${schema}`,
    QUEUE_NAME: `test-${id}`,
    WEBHOOK_QUEUE_NAME: `test-${id}-webhooks`,
    // Receivers in tests listen on loopback; quick retries and timeouts keep tests short.
    WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1',
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_BACKOFF_MS: '200',
    RETAIN_DATA_DIR: dataDir,
    RETAIN_BACKEND: 'wasm',
    LOCK_DURATION_MS: '3000',
    STALLED_INTERVAL_MS: '1000',
    MAX_STALLED_COUNT: '5',
    JOB_ATTEMPTS: '3',
    JOB_BACKOFF_MS: '200',
    PROGRESS_THROTTLE_MS: '100',
    CANCEL_POLL_MS: '200',
    SHUTDOWN_GRACE_MS: '0',
    LOG_LEVEL: 'silent',
    // Tests send many requests with one key; the tests about the limit set their own.
    RATE_LIMIT_MAX: '0',
    ...envOverrides,
  };
  const config = loadEnv(env);
  await migrate({ url: config.databaseUrl, schema, dir: path.join(ROOT, 'prisma', 'migrations') });
  const ctx = createApiContext(config);
  const app = await buildApp({
    ...ctx.deps,
    docsUi: false,
    logger: env.LOG_LEVEL === 'silent' ? false : { level: env.LOG_LEVEL },
  });
  const pool = createPgPool({ url: config.databaseUrl, schema, poolSize: 2 });
  const db = createPrismaClient({ url: config.databaseUrl, schema, pool });
  const keys = new ApiKeyService(new PrismaApiKeyRepository(db));
  const workers: (WorkerHandle & { file: string })[] = [];

  /**
   * Starts `file` (relative to the repository: a worker, the API) as its own process, as in
   * production, and waits for its ready line.
   */
  function startProcess(
    file: string,
    ready: RegExp,
    extraEnv: Record<string, string>,
  ): Promise<WorkerHandle> {
    return startNode(file, ['--import', 'tsx', path.join(ROOT, file)], ROOT, ready, extraEnv);
  }

  /** Starts `node ...args` in `cwd` and waits for its ready line; `file` names it in errors. */
  async function startNode(
    file: string,
    args: string[],
    cwd: string,
    ready: RegExp,
    extraEnv: Record<string, string>,
  ): Promise<WorkerHandle> {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const waiters: { pattern: RegExp; resolve: () => void }[] = [];
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const w of [...waiters])
        if (w.pattern.test(out)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const handle: WorkerHandle & { file: string } = {
      file,
      process: child,
      output: () => out,
      waitForOutput: (pattern, timeoutMs = 120_000) =>
        pattern.test(out)
          ? Promise.resolve()
          : Promise.race([
              new Promise<void>((resolve) => waiters.push({ pattern, resolve })),
              new Promise<void>((_, reject) =>
                // unref: a pending deadline must not keep the test process alive.
                setTimeout(
                  () =>
                    reject(
                      new Error(`${file} printed no ${pattern} within ${timeoutMs} ms:\n${out}`),
                    ),
                  timeoutMs,
                ).unref(),
              ),
              exited.then(({ code, signal }) => {
                throw new Error(
                  `${file} exited (${code ?? signal}) before printing ${pattern}:\n${out}`,
                );
              }),
            ]),
      exited,
    };
    workers.push(handle);
    await handle.waitForOutput(ready);
    return handle;
  }

  return {
    config,
    env,
    app,
    ctx,
    db,
    pool,
    async auth(tenant: string) {
      const { key } = await keys.create(`${tenant}-${id}`);
      return `Bearer ${key}`;
    },
    startWorker: (extraEnv = {}) =>
      startProcess('workers/training.worker.ts', /ready: queue/, extraEnv),
    startWebhookWorker: (extraEnv = {}) =>
      startProcess('workers/webhook.worker.ts', /ready: webhook queue/, extraEnv),
    startCommand: (args, opts) =>
      startNode(args.join(' '), args, opts.cwd, opts.ready, opts.env ?? {}),
    async startApi(extraEnv = {}) {
      const handle = await startProcess(
        'src/http/server.ts',
        /Server listening at http:\/\/127\.0\.0\.1:\d+/,
        {
          LOG_LEVEL: 'info',
          HOST: '127.0.0.1',
          PORT: '0',
          ...extraEnv,
        },
      );
      const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(handle.output())![1];
      return { ...handle, base };
    },
    async close() {
      for (const w of workers) {
        if (w.process.exitCode === null && w.process.signalCode === null) {
          w.process.kill('SIGKILL');
          await w.exited;
        }
      }
      // A queue that never reached Redis (a test of an outage) would wait for it forever.
      if (ctx.queue.connection.status === 'ready') {
        await ctx.queue.queue.obliterate({ force: true }).catch(() => {});
      }
      if (
        ctx.queue.connection.status === 'ready' &&
        workers.some((w) => /webhook\.worker\.[jt]s\b/.test(w.file))
      ) {
        const webhookQueue = new Queue(config.WEBHOOK_QUEUE_NAME, {
          connection: ctx.queue.connection,
          prefix: config.QUEUE_PREFIX,
        });
        await webhookQueue.obliterate({ force: true }).catch(() => {});
        await webhookQueue.close();
      }
      await app.close();
      await ctx.close();
      await db.$disconnect();
      await pool.end();
      await dropSchema(config.databaseUrl, schema);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

/** Pids of the direct children of `pid` (a worker's sandboxed training processes). */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until `fn` returns a value that is not undefined; throws after `timeoutMs` so that a stuck
 * job fails the test instead of hanging the suite.
 */
export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  everyMs = 50,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`eventually: no result within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
