/**
 * The largest checkpoint the spec validator lets a job produce, through the real per-task write
 * and resume read on real Postgres: 400 M float32 parameters, 1.6 GB, over the 1 GB Postgres
 * accepts as one value. It must come back byte for byte, and neither side may hold a second copy
 * of it (JS-side memory sampled every 20 ms). Rates of the same path: bench/results/blob-store.json.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeSafetensors, LIMITS, parameterCounts, resolveSpec } from '../../src/core/index.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

/** Postgres's largest single value (a varlena) is 1 GB - 1 byte. */
const ONE_GB = 2 ** 30;
const MB = 2 ** 20;

/** Peak growth of this process's ArrayBuffer memory while `fn` runs. */
async function arrayBufferGrowth<T>(fn: () => Promise<T>): Promise<{ growth: number; value: T }> {
  const now = () => process.memoryUsage().arrayBuffers;
  const before = now();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, now())), 20);
  try {
    const value = await fn();
    return { growth: Math.max(peak, now()) - before, value };
  } finally {
    clearInterval(sampler);
  }
}

describe('a checkpoint at the parameter limit', () => {
  let svc: TestService;
  before(async () => {
    svc = await createTestService('checkpoint_limit');
  });
  after(async () => svc?.close());

  it('a spec the validator accepts has a checkpoint over 1 GB; it is stored and read back byte for byte, without a second copy in memory', async () => {
    // The permuted-mnist preset with the widest hypernetwork layer the validator accepts.
    const spec = resolveSpec({ preset: 'permuted-mnist', hypernetwork: { hidden: [194] } });
    assert.throws(
      () => resolveSpec({ preset: 'permuted-mnist', hypernetwork: { hidden: [195] } }),
      /the limit is 400,000,000/,
    );
    const counts = parameterCounts(spec);
    const parameters = counts.target + counts.hypernetwork;
    assert.ok(
      parameters <= LIMITS.parameters && parameters > 0.99 * LIMITS.parameters,
      `${parameters}`,
    );

    // Its checkpoint holds every parameter as float32 (a few large tensors stand in for the real ones).
    const block = new Float32Array(50_000_000);
    for (let i = 0; i < block.length; i++) block[i] = Math.sin(i) * 0.05;
    const tensors = [];
    for (let at = 0, i = 0; at < parameters; at += block.length, i++) {
      tensors.push({
        name: `hnet/layer_${i}/kernel`,
        shape: [Math.min(block.length, parameters - at)],
        data: block.subarray(0, Math.min(block.length, parameters - at)),
      });
    }
    const checkpoint = encodeSafetensors(tensors, {
      format: 'retain-checkpoint',
      version: '1',
      state: '{}',
    });
    assert.ok(checkpoint.byteLength > 1.4 * ONE_GB, `${checkpoint.byteLength} bytes`);

    const tenantId = (await svc.db.tenant.create({ data: { name: 'limit' } })).id;
    const { job } = await new PrismaJobRepository(svc.db, svc.pool).create({
      tenantId,
      name: null,
      metadata: null,
      spec: resolveSpec(tinySpec({ tasks: 2 })),
      idempotencyKey: null,
      requestHash: null,
    });
    const store = new PrismaTrainingRepository(svc.db, svc.pool);
    await store.markRunning(job.id, 'lease-1', 'cpu', 'test');
    const write = await arrayBufferGrowth(() =>
      store.completeTask(job.id, 'lease-1', {
        task: 0,
        completedTasks: 1,
        accuracies: [0.5],
        durationMs: 1,
        msPerIteration: 1,
        checkpoint,
        exports: [],
        embedding: null,
      }),
    );
    assert.equal(write.value, true);
    assert.ok(
      write.growth < 256 * MB,
      `writing took ${Math.round(write.growth / MB)} MB beyond the checkpoint`,
    );
    const stored = await svc.pool.query<{ size: string; chunks: string; largest: number }>(
      `SELECT b.size, count(*) AS chunks, max(length(k.data)) AS largest FROM checkpoints c JOIN blobs b ON b.id = c.blob_id
       JOIN blob_chunks k ON k.blob_id = b.id WHERE c.job_id = $1 GROUP BY b.size`,
      [job.id],
    );
    assert.equal(Number(stored.rows[0].size), checkpoint.byteLength);
    assert.equal(Number(stored.rows[0].chunks), Math.ceil(checkpoint.byteLength / MB));
    assert.equal(stored.rows[0].largest, MB);

    const read = await arrayBufferGrowth(() => store.load(job.id));
    const loaded = read.value!.checkpoint!;
    assert.ok(
      read.growth < checkpoint.byteLength + 256 * MB,
      `reading took ${Math.round(read.growth / MB)} MB for a ${Math.round(checkpoint.byteLength / MB)} MB checkpoint`,
    );
    assert.equal(loaded.byteLength, checkpoint.byteLength);
    assert.equal(
      Buffer.compare(
        Buffer.from(loaded.buffer, loaded.byteOffset, loaded.byteLength),
        Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.byteLength),
      ),
      0,
    );
  });
});
