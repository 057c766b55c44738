/**
 * A Postgres connection that breaks while a repository holds it (in the middle of the per-task
 * write, or between two statements) must fail that write, never the process: node-postgres
 * emits 'error' on a checked-out client, and an 'error' event nobody listens to ends Node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkout } from '../../src/infra/prisma/client.js';
import { PrismaTrainingRepository } from '../../src/infra/prisma/training.repository.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

describe('a broken Postgres connection during repository work', () => {
  let svc: TestService;
  before(async () => {
    svc = await createTestService('pgloss');
  });
  after(async () => svc?.close());

  it('a checked-out client whose backend is terminated: the process lives, the pool recovers', async () => {
    const { client, release } = await checkout(svc.pool);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Not events.once: it would listen to 'error' itself and hide a missing guard.
    const closed = new Promise((resolve) => client.once('end', resolve));
    await svc.ctx.deps.readiness.database();
    await svc.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]).catch(() => {});
    await closed;
    release();
    assert.equal((await svc.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one, 1);
  });

  it('the per-task write whose connection is terminated mid-way settles, and a retry stores the task', async () => {
    const auth = await svc.auth('acme');
    const jobId = (
      await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: auth },
        payload: tinySpec(),
      })
    ).json().id;
    const store = new PrismaTrainingRepository(svc.db, svc.pool);
    await store.markRunning(jobId, 'test-lease', 'wasm', 'test');
    const completion = (checkpoint: Uint8Array) => ({
      task: 0,
      completedTasks: 1,
      accuracies: [0.5],
      durationMs: 1,
      msPerIteration: 1,
      checkpoint,
      embedding: null,
      exports: [],
    });
    // Settled at once into a value: the write may fail before this test looks at it.
    const write = store
      .completeTask(jobId, 'test-lease', completion(new Uint8Array(64 * 1024 * 1024)))
      .then(
        () => null,
        (err: Error) => err,
      );
    // Terminate the connection while it streams the 64 MB checkpoint (or right after, if it was quicker).
    const victim = await eventually(
      async () =>
        (
          await svc.pool.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY blob_chunks%' AND pid <> pg_backend_pid()`,
          )
        ).rows[0]?.pid,
      5,
      20_000,
    ).catch(() => null);
    if (victim) await svc.pool.query('SELECT pg_terminate_backend($1)', [victim]);
    const err = await write;
    if (err) assert.match(err.message, /terminat|Connection|closed|EPIPE|ECONNRESET/i);
    await store.completeTask(jobId, 'test-lease', completion(new Uint8Array(1024)));
    const row = await svc.pool.query<{ n: string }>(
      'SELECT b.size AS n FROM checkpoints c JOIN blobs b ON b.id = c.blob_id WHERE c.job_id = $1',
      [jobId],
    );
    assert.equal(Number(row.rows[0].n), 1024);
  });
});
