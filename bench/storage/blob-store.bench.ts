/**
 * The blob store and the per-task write of checkpoints and exports, on this machine's Postgres
 * (a private schema), with float32 data like a model's weights:
 *   1. the server alone: 512 MiB inserted by one INSERT ... SELECT of a 1 MiB value already in
 *      Postgres (no client involved), with STORAGE EXTERNAL (blob_chunks.data) and with the
 *      default EXTENDED (pglz tried on every chunk);
 *   2. writes from Node, 512 MiB in one transaction: one INSERT per 1 MiB chunk with a binary
 *      parameter (the store before COPY), 4 chunks per INSERT, 4 MiB chunks, and binary COPY with
 *      1 MiB and 4 MiB chunks (writeBlob);
 *   3. reads of 512 MiB blobs of 1 MiB and 4 MiB chunks: one query per chunk in base64 (the store
 *      before COPY), binary COPY of 8 chunks at a time (readBlob), one COPY of the whole blob;
 *   (1-3 run BENCH_ROUNDS times, 3 by default, the variants taking turns, so that other load on
 *   the machine spreads over all of them; the result keeps every run and the median)
 *   4. the real per-task write (PrismaTrainingRepository.completeTask) and resume read (load) of a
 *      checkpoint the size of the permuted-mnist preset's and of one at the spec's parameter
 *      limit (over Postgres's 1 GB value limit): rates, equality, and this process's resident
 *      memory above the checkpoint it holds (sampled every 20 ms);
 *   5. the table after a job (run first, on the fresh table): 5 task ends of a 256 MiB checkpoint
 *      with the exports tasksToExport names (8 MiB mask + 8 MiB weights each): size and dead
 *      tuples after each task end, after a VACUUM, after a second such job (is the space reused?)
 *      and after deleting both.
 * Every write starts after a CHECKPOINT, so the previous step's WAL does not slow it down. Writes
 * bench/results/blob-store.json. Usage: npx tsx bench/storage/blob-store.bench.ts
 */
import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import {
  encodeSafetensors,
  LIMITS,
  parameterCounts,
  resolveSpec,
  tasksToExport,
  type TaskExport,
} from '../../src/core/index.js';
import { readBlob, writeBlob } from '../../src/infra/blobs/pg-blob-store.js';
import { checkout } from '../../src/infra/prisma/client.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { machine, ROOT, startBenchDatabase } from '../harness.js';

const loadAverageAtStart = os.loadavg()[0];
const MiB = 2 ** 20;
const TOTAL = Number(process.env.BENCH_BLOB_MIB ?? 512) * MiB;
const { pool, db, stop } = await startBenchDatabase();

/** Float32 values like trained weights (normal, sd 0.05), from a fixed LCG. */
function weightsLike(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    out[i] = 0.05 * r * Math.cos(a);
    if (i + 1 < count) out[i + 1] = 0.05 * r * Math.sin(a);
  }
  return out;
}

const source = Buffer.from(weightsLike((64 * MiB) / 4, 1).buffer);
/** `total` bytes of `source`, cycled, in pieces of `piece` bytes (views, no copies). */
function* pieces(total: number, piece: number): Generator<Buffer> {
  for (let at = 0; at < total; at += piece) {
    const from = at % source.length;
    yield source.subarray(from, from + Math.min(piece, total - at, source.length - from));
  }
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median and every run's rate, for `bytes` moved in each of `ms`. */
const rates = (bytes: number, ms: number[]) => ({
  megabytesPerSecond: median(ms.map((m) => rate(bytes, m))),
  runs: ms.map((m) => rate(bytes, m)),
});
const rate = (bytes: number, ms: number) => round(bytes / MiB / (ms / 1000));
const rss = () => process.memoryUsage.rss();

async function inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    release();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  await pool.query('CHECKPOINT');
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Resident memory of this process while `fn` runs: its peak above the level at the start. */
async function peakGrowth<T>(fn: () => Promise<T>): Promise<{ growthMb: number; value: T }> {
  const before = rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
  try {
    const value = await fn();
    peak = Math.max(peak, rss());
    return { growthMb: round((peak - before) / MiB), value };
  } finally {
    clearInterval(sampler);
  }
}

async function serverAlone(storage: 'EXTERNAL' | 'EXTENDED'): Promise<number> {
  await pool.query(
    `CREATE TABLE bench_chunks (blob_id uuid, seq int, data bytea, PRIMARY KEY (blob_id, seq))`,
  );
  await pool.query(`ALTER TABLE bench_chunks ALTER COLUMN data SET STORAGE ${storage}`);
  await pool.query('CREATE TABLE bench_source (data bytea)');
  await pool.query('ALTER TABLE bench_source ALTER COLUMN data SET STORAGE EXTERNAL');
  await pool.query('INSERT INTO bench_source VALUES ($1)', [source.subarray(0, MiB)]);
  const { ms } = await timed(() =>
    pool.query(
      `INSERT INTO bench_chunks SELECT $1::uuid, g, (SELECT data FROM bench_source) FROM generate_series(0, $2::int - 1) g`,
      [randomUUID(), TOTAL / MiB],
    ),
  );
  const size = Number(
    (await pool.query<{ n: string }>(`SELECT pg_total_relation_size('bench_chunks') AS n`)).rows[0]
      .n,
  );
  await pool.query('DROP TABLE bench_chunks, bench_source');
  if (size < TOTAL)
    throw new Error(
      `${storage}: pglz compressed the data (${size} bytes stored); the comparison assumes it cannot`,
    );
  return ms;
}

async function serverAloneRounds() {
  const ms: Record<string, number[]> = { EXTERNAL: [], EXTENDED: [] };
  for (let r = 0; r < ROUNDS; r++)
    for (const storage of ['EXTERNAL', 'EXTENDED'] as const)
      ms[storage].push(await serverAlone(storage));
  return Object.entries(ms).map(([storage, runs]) => ({
    storage,
    bytes: TOTAL,
    ...rates(TOTAL, runs),
  }));
}

const binaryParamInsert =
  (chunkBytes: number, perStatement: number) => async (client: pg.PoolClient) => {
    const id = randomUUID();
    const hash = createHash('sha256');
    await client.query(`INSERT INTO blobs (id, size, sha256) VALUES ($1, 0, '')`, [id]);
    let batch: Buffer[] = [];
    let seq = 0;
    const flush = async () => {
      if (!batch.length) return;
      const values = batch.map((_, i) => `($1, $${2 + 2 * i}, $${3 + 2 * i})`).join(', ');
      await client.query(`INSERT INTO blob_chunks (blob_id, seq, data) VALUES ${values}`, [
        id,
        ...batch.flatMap((b, i) => [seq + i, b]),
      ]);
      seq += batch.length;
      batch = [];
    };
    for (const chunk of pieces(TOTAL, chunkBytes)) {
      hash.update(chunk);
      batch.push(chunk);
      if (batch.length === perStatement) await flush();
    }
    await flush();
    await client.query('UPDATE blobs SET size = $2, sha256 = $3 WHERE id = $1', [
      id,
      TOTAL,
      hash.digest('hex'),
    ]);
    return id;
  };

const WRITES: { name: string; write: (client: pg.PoolClient) => Promise<string> }[] = [
  { name: 'INSERT per 1 MiB chunk (binary parameter)', write: binaryParamInsert(MiB, 1) },
  { name: 'INSERT of 4 x 1 MiB chunks per statement', write: binaryParamInsert(MiB, 4) },
  { name: 'INSERT per 4 MiB chunk', write: binaryParamInsert(4 * MiB, 1) },
  {
    name: 'binary COPY, 1 MiB chunks (writeBlob)',
    write: async (client) => (await writeBlob(client, pieces(TOTAL, 8 * MiB), MiB)).id,
  },
  {
    name: 'binary COPY, 4 MiB chunks',
    write: async (client) => (await writeBlob(client, pieces(TOTAL, 8 * MiB), 4 * MiB)).id,
  },
];

async function readBase64PerChunk(id: string): Promise<number> {
  let n = 0;
  const hash = createHash('sha256');
  for (let seq = 0; ; seq++) {
    const { rows } = await pool.query<{ data: string }>(
      `SELECT encode(data, 'base64') AS data FROM blob_chunks WHERE blob_id = $1 AND seq = $2`,
      [id, seq],
    );
    if (rows.length === 0) return n;
    const data = Buffer.from(rows[0].data, 'base64');
    hash.update(data);
    n += data.length;
  }
}

async function readOneCopy(id: string): Promise<number> {
  const { client, release } = await checkout(pool);
  let n = 0;
  const hash = createHash('sha256');
  try {
    // Counts the COPY stream's bytes (row framing included): the rate of the transfer alone.
    for await (const piece of client.query(
      copyTo(
        `COPY (SELECT data FROM blob_chunks WHERE blob_id = '${id}' ORDER BY seq) TO STDOUT (FORMAT binary)`,
      ),
    )) {
      hash.update(piece as Buffer);
      n += (piece as Buffer).length;
    }
  } finally {
    release();
  }
  return n;
}

async function readBlobStore(id: string): Promise<number> {
  let n = 0;
  for await (const chunk of readBlob(pool, id)) n += chunk.length;
  return n;
}

const READS: { name: string; read: (id: string) => Promise<number> }[] = [
  { name: 'one query per chunk, base64', read: readBase64PerChunk },
  { name: 'binary COPY of 8 chunks at a time (readBlob)', read: readBlobStore },
  { name: 'one binary COPY of the whole blob', read: readOneCopy },
];

async function clientWrites() {
  const ms = WRITES.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, w] of WRITES.entries()) {
      const run = await timed(() => inTransaction(w.write));
      ms[i].push(run.ms);
      await pool.query('DELETE FROM blobs WHERE id = $1', [run.value]);
      await pool.query('VACUUM blob_chunks');
    }
  }
  return WRITES.map((w, i) => ({ write: w.name, bytes: TOTAL, ...rates(TOTAL, ms[i]) }));
}

async function clientReads() {
  const layouts = [MiB, 4 * MiB];
  const blobs = await Promise.all(
    layouts.map((chunk) =>
      inTransaction(async (client) => (await writeBlob(client, pieces(TOTAL, 8 * MiB), chunk)).id),
    ),
  );
  const ms = layouts.map(() => READS.map(() => [] as number[]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [l, id] of blobs.entries()) {
      for (const [i, read] of READS.entries()) {
        const t0 = performance.now();
        await read.read(id);
        ms[l][i].push(performance.now() - t0);
      }
    }
  }
  for (const id of blobs) await pool.query('DELETE FROM blobs WHERE id = $1', [id]);
  await pool.query('VACUUM blob_chunks');
  return layouts.flatMap((chunkBytes, l) =>
    READS.map((read, i) => ({
      read: read.name,
      chunkBytes,
      bytes: TOTAL,
      ...rates(TOTAL, ms[l][i]),
    })),
  );
}

/**
 * A checkpoint-shaped safetensors file of `parameters` float32 values (a few large tensors, all
 * views of one array).
 */
function checkpointOf(parameters: number): Uint8Array {
  const per = 50_000_000;
  const block = weightsLike(per, 7);
  const tensors = [];
  for (let at = 0, i = 0; at < parameters; at += per, i++) {
    const n = Math.min(per, parameters - at);
    tensors.push({ name: `hnet/layer_${i}/kernel`, shape: [n], data: block.subarray(0, n) });
  }
  return encodeSafetensors(tensors, { format: 'retain-checkpoint', version: '1', state: '{}' });
}

/**
 * The largest hypernetwork hidden width the validator accepts on the permuted-mnist preset's
 * networks: a spec at the parameter limit.
 */
function specAtTheLimit() {
  const at = (width: number) =>
    resolveSpec({ preset: 'permuted-mnist', hypernetwork: { hidden: [width] } });
  let lo = 1;
  let hi = 4096;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      at(mid);
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return at(lo);
}

async function newJob(tasks: number): Promise<string> {
  const tenant = await db.tenant.upsert({
    where: { name: 'bench' },
    update: {},
    create: { name: 'bench' },
  });
  const spec = resolveSpec({ benchmark: { tasks } });
  const { job } = await new PrismaJobRepository(db, pool).create({
    tenantId: tenant.id,
    name: null,
    metadata: null,
    spec,
    idempotencyKey: null,
    requestHash: null,
  });
  // The attempt that owns the job (training writes are fenced by its lease).
  await new PrismaTrainingRepository(db, pool).markRunning(job.id, 'lease-1', 'cpu', 'bench');
  return job.id;
}

async function perTaskWriteAndResume() {
  const store = new PrismaTrainingRepository(db, pool);
  const limit = specAtTheLimit();
  const cases = [
    { name: 'permuted-mnist preset', spec: resolveSpec({ preset: 'permuted-mnist' }) },
    {
      name: `a spec at the parameter limit (${LIMITS.parameters.toLocaleString('en-US')})`,
      spec: limit,
    },
  ];
  const out = [];
  for (const c of cases) {
    const counts = parameterCounts(c.spec);
    const parameters = counts.target + counts.hypernetwork;
    const checkpoint = checkpointOf(parameters);
    const jobId = await newJob(1);
    const write = await peakGrowth(() =>
      timed(() =>
        store.completeTask(jobId, 'lease-1', {
          task: 0,
          completedTasks: 1,
          accuracies: [0],
          durationMs: 0,
          msPerIteration: 0,
          checkpoint,
          exports: [],
          embedding: null,
        }),
      ),
    );
    const read = await peakGrowth(async () => {
      const t0 = performance.now();
      const loaded = await store.load(jobId);
      return { ms: performance.now() - t0, loaded: loaded!.checkpoint! };
    });
    const equal =
      Buffer.compare(
        Buffer.from(
          read.value.loaded.buffer,
          read.value.loaded.byteOffset,
          read.value.loaded.byteLength,
        ),
        Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.byteLength),
      ) === 0;
    const row = {
      case: c.name,
      parameters,
      bytes: checkpoint.byteLength,
      write: {
        ms: Math.round(write.value.ms),
        megabytesPerSecond: rate(checkpoint.byteLength, write.value.ms),
        rssGrowthMb: write.growthMb,
      },
      read: {
        ms: Math.round(read.value.ms),
        megabytesPerSecond: rate(checkpoint.byteLength, read.value.ms),
        rssGrowthMb: read.growthMb,
      },
      readBackEqual: equal,
    };
    console.log(JSON.stringify(row));
    out.push(row);
    await new PrismaJobRepository(db, pool).delete(
      (await db.job.findUniqueOrThrow({ where: { id: jobId } })).tenantId,
      jobId,
    );
    await pool.query('VACUUM blob_chunks');
  }
  return out;
}

async function tableState(label: string) {
  await new Promise((r) => setTimeout(r, 1200)); // statistics reach pg_stat_* within about a second
  await pool.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await pool.query<{
    table_bytes: string;
    live_bytes: string;
    toast_live: string;
    toast_dead: string;
  }>(
    `SELECT pg_total_relation_size('blob_chunks') AS table_bytes,
            (SELECT coalesce(sum(size), 0) FROM blobs) AS live_bytes,
            s.n_live_tup AS toast_live, s.n_dead_tup AS toast_dead
     FROM pg_stat_all_tables s WHERE s.relid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'blob_chunks'::regclass)`,
  );
  const r = rows[0];
  return {
    after: label,
    tableBytes: Number(r.table_bytes),
    liveBlobBytes: Number(r.live_bytes),
    toastLiveTuples: Number(r.toast_live),
    toastDeadTuples: Number(r.toast_dead),
  };
}

async function tableAfterJobs() {
  const store = new PrismaTrainingRepository(db, pool);
  const tasks = 5;
  const bigCheckpoint = Buffer.concat([source, source, source, source]).subarray(0, 256 * MiB);
  const exportOf = (task: number): TaskExport => ({
    task,
    mask: bigCheckpoint.subarray(task * 8 * MiB, (task + 1) * 8 * MiB),
    model: {
      modelJson: { task },
      weights: bigCheckpoint.subarray((task + 1) * 8 * MiB, (task + 2) * 8 * MiB),
      weightsFileName: 'weights.bin',
    },
    modelUnavailable: null,
  });
  const states = [await tableState('start')];
  const jobs: string[] = [];
  const taskWriteMs: number[] = [];
  for (const run of [1, 2]) {
    const jobId = await newJob(tasks);
    jobs.push(jobId);
    for (let t = 0; t < tasks; t++) {
      const { ms } = await timed(() =>
        store.completeTask(jobId, 'lease-1', {
          task: t,
          completedTasks: t + 1,
          accuracies: [0],
          durationMs: 0,
          msPerIteration: 0,
          checkpoint: bigCheckpoint,
          exports: tasksToExport({ task: t, tasks }).map(exportOf),
          embedding: null,
        }),
      );
      taskWriteMs.push(Math.round(ms));
      if (run === 1) states.push(await tableState(`job 1, task ${t}`));
    }
    states.push(await tableState(`job ${run}`));
    if (run === 1) {
      await pool.query('VACUUM blob_chunks');
      states.push(await tableState('VACUUM'));
    }
  }
  const repo = new PrismaJobRepository(db, pool);
  const tenantId = (await db.tenant.findUniqueOrThrow({ where: { name: 'bench' } })).id;
  for (const id of jobs) await repo.delete(tenantId, id);
  states.push(await tableState('deleting both jobs'));
  await pool.query('VACUUM blob_chunks');
  states.push(await tableState('VACUUM'));
  for (const s of states) console.log(JSON.stringify(s));
  return {
    tasks,
    checkpointBytes: bigCheckpoint.byteLength,
    exportBytes: 16 * MiB,
    taskWriteMs,
    states,
  };
}

try {
  const settings = Object.fromEntries(
    (
      await pool.query<{ name: string; setting: string; unit: string | null }>(
        `SELECT name, setting, unit FROM pg_settings WHERE name IN ('autovacuum', 'max_wal_size', 'shared_buffers', 'synchronous_commit', 'wal_compression', 'server_version')`,
      )
    ).rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]),
  );
  // First, on the fresh table (VACUUM cannot remove dead tuples that an open transaction anywhere
  // in the database may still see, so later steps could leave some behind).
  const table = await tableAfterJobs();
  const server = await serverAloneRounds();
  console.log(JSON.stringify(server));
  const writes = await clientWrites();
  console.log(JSON.stringify(writes));
  const reads = await clientReads();
  console.log(JSON.stringify(reads));
  const perTask = await perTaskWriteAndResume();
  const result = {
    when: new Date().toISOString(),
    machine: machine(loadAverageAtStart),
    loadAverageAtEnd: os.loadavg()[0],
    postgres: settings,
    rounds: ROUNDS,
    server,
    writes,
    reads,
    perTask,
    table,
  };
  await writeFile(
    path.join(ROOT, 'bench', 'results', 'blob-store.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log('wrote bench/results/blob-store.json');
} finally {
  await stop();
}
