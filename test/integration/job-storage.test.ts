/**
 * Checkpoints and exports in the blob store, through the repositories on real Postgres: a task
 * end writes only the exports it is given and removes what they replace; a job deleted before or
 * during a worker's write is never written back; a blob shared by a job and its continuation is
 * removed exactly once, by whichever of them lets go of it last, also when both do at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveSpec, type TaskExport } from '../../src/core/index.js';
import { readBlobBytes } from '../../src/infra/blobs/pg-blob-store.js';
import { jobBlobIds } from '../../src/infra/prisma/job-blobs.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import type { TaskCompletion } from '../../src/services/ports.js';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function exportOf(task: number, seed: number): TaskExport {
  return {
    task,
    mask: bytes(300, seed),
    model: {
      modelJson: { format: 'layers-model', seed },
      weights: bytes(700, seed + 1),
      weightsFileName: 'weights.bin',
    },
    modelUnavailable: null,
  };
}

function completion(
  task: number,
  exports: TaskExport[],
  checkpoint = bytes(5000, task),
): TaskCompletion {
  return {
    task,
    completedTasks: task + 1,
    accuracies: [0.5],
    durationMs: 1,
    msPerIteration: 1,
    checkpoint,
    exports,
    embedding: null,
  };
}

describe('job storage', () => {
  let svc: TestService;
  let store: PrismaTrainingRepository;
  let jobs: PrismaJobRepository;
  let tenantId: string;

  before(async () => {
    svc = await createTestService('job_storage');
    // A small chunk size, so that a few KB make several chunks.
    store = new PrismaTrainingRepository(svc.db, svc.pool, 1024);
    jobs = new PrismaJobRepository(svc.db, svc.pool);
    tenantId = (await svc.db.tenant.create({ data: { name: 'storage' } })).id;
  });
  after(async () => svc?.close());

  async function newJob(
    tasks = 2,
    continueFrom: { jobId: string; inheritedTasks: number } | null = null,
  ): Promise<string> {
    const spec = resolveSpec(tinySpec({ tasks }));
    const { job } = await jobs.create({
      tenantId,
      name: null,
      metadata: null,
      spec,
      idempotencyKey: null,
      requestHash: null,
      continueFrom,
    });
    return job.id;
  }
  async function succeededJob(): Promise<string> {
    const id = await newJob(2);
    await store.markRunning(id, 'lease-1', 'cpu', 'test');
    await store.completeTask(id, 'lease-1', completion(0, [exportOf(0, 1)]));
    await store.completeTask(id, 'lease-1', completion(1, [exportOf(0, 2), exportOf(1, 3)]));
    await store.succeed(id, 'lease-1', {
      averageAccuracy: 0.5,
      backwardTransfer: null,
      forgetting: null,
      taskInference: null,
    });
    return id;
  }
  const artifactBlobs = async (id: string) =>
    (
      await svc.pool.query<{ task: number; mask_blob_id: string; weights_blob_id: string }>(
        'SELECT task, mask_blob_id, weights_blob_id FROM task_artifacts WHERE job_id = $1 ORDER BY task',
        [id],
      )
    ).rows;
  const existing = async (ids: string[]) =>
    Number(
      (
        await svc.pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM blobs WHERE id = ANY($1::uuid[])',
          [ids],
        )
      ).rows[0].n,
    );
  const orphans = async () =>
    Number(
      (
        await svc.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.blob_id = b.id)
             AND NOT EXISTS (SELECT 1 FROM task_artifacts a WHERE b.id IN (a.mask_blob_id, a.weights_blob_id))
             AND NOT EXISTS (SELECT 1 FROM datasets d WHERE d.blob_id = b.id)`,
        )
      ).rows[0].n,
    );

  it('writes the exports it is given, keeps the others, and removes the blobs it replaces', async () => {
    const id = await newJob(3);
    await store.markRunning(id, 'lease-1', 'cpu', 'test');
    assert.equal(await store.completeTask(id, 'lease-1', completion(0, [exportOf(0, 1)])), true);
    const [task0] = await artifactBlobs(id);
    const firstCheckpoint = (await jobBlobIds(svc.pool, id)).filter(
      (b) => b !== task0.mask_blob_id && b !== task0.weights_blob_id,
    );
    await store.completeTask(id, 'lease-1', completion(1, [exportOf(1, 2)]));
    const afterTask1 = await artifactBlobs(id);
    assert.deepEqual(afterTask1[0], task0, "task 0's export is left as it was");
    assert.equal(await existing(firstCheckpoint), 0, 'the replaced checkpoint is gone');

    const last = completion(2, [exportOf(0, 7), exportOf(1, 8), exportOf(2, 9)], bytes(4321, 9));
    await store.completeTask(id, 'lease-1', last);
    const final = await artifactBlobs(id);
    assert.equal(final.length, 3);
    assert.equal(
      await existing(afterTask1.flatMap((r) => [r.mask_blob_id, r.weights_blob_id])),
      0,
      'replaced exports are gone',
    );
    const loaded = await store.load(id);
    assert.deepEqual(loaded!.checkpoint, bytes(4321, 9));
    const model = await jobs.model(id, 0);
    assert.deepEqual(model!.modelJson, { format: 'layers-model', seed: 7 });
    assert.equal(model!.weights.size, 700);
    assert.deepEqual(await readBlobBytes(svc.pool, final[0].weights_blob_id), bytes(700, 8));
    assert.equal(await orphans(), 0);
  });

  it('an export without a model (a ResNet target) stores its mask and the reason, no weights blob', async () => {
    const id = await newJob(2);
    await store.markRunning(id, 'lease-1', 'cpu', 'test');
    const noModel = (task: number, seed: number): TaskExport => ({
      task,
      mask: bytes(300, seed),
      model: null,
      modelUnavailable: 'batch statistics',
    });
    assert.equal(await store.completeTask(id, 'lease-1', completion(0, [noModel(0, 1)])), true);
    await store.completeTask(id, 'lease-1', completion(1, [noModel(0, 2), noModel(1, 3)]));
    const rows = await artifactBlobs(id);
    assert.deepEqual(
      rows.map((r) => r.weights_blob_id),
      [null, null],
    );
    assert.deepEqual(await readBlobBytes(svc.pool, rows[0].mask_blob_id), bytes(300, 2));
    assert.equal(await jobs.model(id, 0), null);
    assert.equal(await jobs.modelJson(id, 0), null);
    assert.equal(await jobs.modelUnavailable(id, 1), 'batch statistics');
    assert.equal((await jobs.artifactVersions(id)).length, 2);
    assert.equal(await orphans(), 0, 'the replaced mask of task 0 is gone');
  });

  it('a job deleted before a worker writes is not written back, and no store call fails or resurrects it', async () => {
    const id = await newJob(2);
    await store.markRunning(id, 'lease-1', 'cpu', 'test');
    assert.equal(await jobs.delete(tenantId, id), true);
    assert.equal(await store.completeTask(id, 'lease-1', completion(0, [exportOf(0, 1)])), false);
    await store.addMetricPoints(id, 'lease-1', [{ kind: 'loss', task: 0, iteration: 0, value: 1 }]);
    await store.saveProgress(id, 'lease-1', {
      task: 0,
      iteration: 1,
      etaMs: 1,
      firstIteration: true,
    });
    await store.requeue(id, 'lease-1', 'x');
    await store.fail(id, 'lease-1', { code: 'X', message: 'x' });
    await store.succeed(id, 'lease-1', {
      averageAccuracy: 1,
      backwardTransfer: null,
      forgetting: null,
      taskInference: null,
    });
    assert.equal(await store.markRunning(id, 'lease-1', 'cpu', 'again'), false);
    assert.equal(await store.load(id), null);
    for (const table of [
      'jobs',
      'job_events',
      'metric_points',
      'checkpoints',
      'task_artifacts',
      'task_results',
    ]) {
      const column = table === 'jobs' ? 'id' : 'job_id';
      assert.equal(
        Number(
          (await svc.pool.query(`SELECT count(*) AS n FROM ${table} WHERE ${column} = $1`, [id]))
            .rows[0].n,
        ),
        0,
        table,
      );
    }
    assert.equal(await orphans(), 0, 'the refused write left no blob behind');
  });

  it('a delete racing a task end leaves nothing, whichever wins', async () => {
    for (let round = 0; round < 4; round++) {
      const id = await newJob(2);
      await store.markRunning(id, 'lease-1', 'cpu', 'test');
      await store.completeTask(id, 'lease-1', completion(0, [exportOf(0, 1)]));
      const write = store.completeTask(
        id,
        'lease-1',
        completion(1, [exportOf(0, 2), exportOf(1, 3)], bytes(3 * 1024 * 1024, round)),
      );
      // Start the delete while the 3 MB checkpoint streams, or a little before or after it.
      await new Promise((r) => setTimeout(r, round * 15));
      const [stored, deleted] = await Promise.all([write, jobs.delete(tenantId, id)]);
      assert.equal(deleted, true);
      assert.equal(typeof stored, 'boolean');
      assert.equal(await store.load(id), null);
      assert.equal(await orphans(), 0, `round ${round}`);
    }
  });

  it("a continuation shares its source's blobs; deleted in either order, or at once with a write, each blob goes exactly once", async () => {
    // Source deleted while the continuation replaces its first checkpoint, at the same moment.
    for (let round = 0; round < 4; round++) {
      const a = await succeededJob();
      const b = await newJob(3, { jobId: a, inheritedTasks: 2 });
      const shared = await jobBlobIds(svc.pool, a);
      assert.deepEqual((await jobBlobIds(svc.pool, b)).sort(), [...shared].sort());
      await store.markRunning(b, 'lease-1', 'cpu', 'test');
      const [stored, deleted] = await Promise.all([
        store.completeTask(b, 'lease-1', completion(2, [exportOf(2, 4)])),
        jobs.delete(tenantId, a),
      ]);
      assert.deepEqual([stored, deleted], [true, true]);
      // B still points at A's exports of tasks 0 and 1 (it has not rewritten them): those stay; A's
      // checkpoint does not.
      const kept = (await artifactBlobs(b))
        .filter((r) => r.task < 2)
        .flatMap((r) => [r.mask_blob_id, r.weights_blob_id]);
      assert.equal(await existing(kept), 4);
      assert.equal(await existing(shared), 4, `round ${round}: only the replaced checkpoint went`);
      assert.equal(await orphans(), 0, `round ${round}`);
      assert.equal(await jobs.delete(tenantId, b), true);
      assert.equal(await existing(shared), 0);
      assert.equal(await orphans(), 0);
    }
    // The continuation deleted first: the source keeps everything.
    const a = await succeededJob();
    const b = await newJob(3, { jobId: a, inheritedTasks: 2 });
    const shared = await jobBlobIds(svc.pool, a);
    await jobs.delete(tenantId, b);
    assert.equal(await existing(shared), shared.length);
    assert.deepEqual((await store.load(a))!.checkpoint, bytes(5000, 1));
    await jobs.delete(tenantId, a);
    assert.equal(await existing(shared), 0);
    assert.equal(await orphans(), 0);
  });
});
