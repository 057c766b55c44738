/**
 * The API process's periodic work, with the real entry point (src/http/server.ts) on a private
 * schema and queue: checkpoint retention (RETENTION_CHECKPOINT_DAYS, RETENTION_INTERVAL_MS) drops
 * the checkpoints of jobs finished long enough ago and keeps their results and downloads, after
 * which continuing such a job answers 409; the reconciler runs at RECONCILE_INTERVAL_MS with
 * RECONCILE_GRACE_MS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadEnv } from '../../src/config/env.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

describe('checkpoint retention and the reconciler in the API process', () => {
  let svc: TestService;
  let auth: string;
  const ids: Record<string, string> = {};

  before(async () => {
    svc = await createTestService('retention');
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

  const request = (method: 'GET' | 'POST', url: string, payload?: object) =>
    svc.app.inject({
      method,
      url,
      headers: { authorization: auth },
      ...(payload ? { payload } : {}),
    });
  async function submit(payload: object): Promise<string> {
    const res = await request('POST', '/v1/jobs', payload);
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  }
  const job = async (id: string) => (await request('GET', `/v1/jobs/${id}`)).json();
  const checkpointBlob = async (id: string): Promise<string | null> =>
    (
      await svc.pool.query<{ blob_id: string }>(
        'SELECT blob_id FROM checkpoints WHERE job_id = $1',
        [id],
      )
    ).rows[0]?.blob_id ?? null;

  it('reads the settings: unset keeps every checkpoint, and the interval has a floor', () => {
    assert.equal(loadEnv({}).RETENTION_CHECKPOINT_DAYS, undefined);
    assert.equal(loadEnv({ RETENTION_CHECKPOINT_DAYS: '30' }).RETENTION_CHECKPOINT_DAYS, 30);
    assert.throws(() => loadEnv({ RETENTION_CHECKPOINT_DAYS: '-1' }), /RETENTION_CHECKPOINT_DAYS/);
    assert.throws(() => loadEnv({ RETENTION_INTERVAL_MS: '5' }), /RETENTION_INTERVAL_MS/);
    assert.equal(
      loadEnv({ RECONCILE_GRACE_MS: '0', RECONCILE_INTERVAL_MS: '250' }).RECONCILE_INTERVAL_MS,
      250,
    );
  });

  it('two jobs succeed; one of them finished three days ago', async () => {
    const worker = await svc.startWorker();
    ids.old = await submit(tinySpec());
    ids.recent = await submit(tinySpec());
    for (const id of [ids.old, ids.recent]) {
      const done = await eventually(
        async () => {
          const j = await job(id);
          return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
        },
        100,
        300_000,
      );
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    }
    worker.process.kill('SIGKILL');
    await worker.exited;
    await svc.pool.query(`UPDATE jobs SET finished_at = now() - interval '3 days' WHERE id = $1`, [
      ids.old,
    ]);
    assert.ok(await checkpointBlob(ids.old));
    // A queued job the queue lost (Redis restarted without its append-only file).
    ids.lost = await submit(tinySpec());
    await (await svc.ctx.queue.queue.getJob(ids.lost))!.remove();
  });

  it('the API process drops the old checkpoint, keeps results and downloads, and re-queues the lost job', async () => {
    const before = {
      metrics: (await request('GET', `/v1/jobs/${ids.old}/metrics`)).json().accuracyMatrix,
      mask: (await request('GET', `/v1/jobs/${ids.old}/tasks/1/mask`)).rawPayload,
      blob: (await checkpointBlob(ids.old))!,
    };
    const api = await svc.startApi({
      RETENTION_CHECKPOINT_DAYS: '2',
      RETENTION_INTERVAL_MS: '200',
      RECONCILE_INTERVAL_MS: '200',
      RECONCILE_GRACE_MS: '0',
    });
    await api.waitForOutput(
      /removed the checkpoints of 1 job\(s\) finished over 2 days ago/,
      60_000,
    );
    await api.waitForOutput(/re-queued 1 job\(s\) missing from the queue/, 60_000);
    assert.ok(await svc.ctx.queue.queue.getJob(ids.lost), 'the lost job is back on the queue');

    const old = await job(ids.old);
    assert.equal(old.status, 'succeeded');
    assert.ok(
      old.checkpointRemovedAt && Date.parse(old.checkpointRemovedAt) > Date.now() - 120_000,
      old.checkpointRemovedAt,
    );
    assert.equal(await checkpointBlob(ids.old), null);
    assert.equal(
      Number(
        (await svc.pool.query('SELECT count(*) AS n FROM blobs WHERE id = $1', [before.blob]))
          .rows[0].n,
      ),
      0,
      'its bytes are gone',
    );
    assert.deepEqual(
      (await request('GET', `/v1/jobs/${ids.old}/metrics`)).json().accuracyMatrix,
      before.metrics,
    );
    assert.deepEqual(
      (await request('GET', `/v1/jobs/${ids.old}/tasks/1/mask`)).rawPayload,
      before.mask,
    );
    assert.equal(
      (await request('GET', `/v1/jobs/${ids.old}/tasks/1/model/weights.bin`)).statusCode,
      200,
    );

    const recent = await job(ids.recent);
    assert.equal(recent.checkpointRemovedAt, null);
    assert.ok(
      await checkpointBlob(ids.recent),
      'a job finished within the retention keeps its checkpoint',
    );
    // Served by the API process too (it is the same service).
    const res = await fetch(`${api.base}/v1/jobs/${ids.old}`, { headers: { authorization: auth } });
    assert.equal((await res.json()).checkpointRemovedAt, old.checkpointRemovedAt);
  });

  it('continuing the job whose checkpoint was dropped answers 409 with the reason; the other one can be continued', async () => {
    const res = await request('POST', '/v1/jobs', {
      continueFrom: ids.old,
      benchmark: { tasks: 1 },
    });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().error.code, 'CONTINUE_FROM_CHECKPOINT_REMOVED');
    assert.match(
      res.json().error.message,
      new RegExp(
        `^continueFrom: the checkpoint of job ${ids.old} was removed on \\d{4}-.*can no longer be continued`,
      ),
    );
    const ok = await request('POST', '/v1/jobs', {
      continueFrom: ids.recent,
      benchmark: { tasks: 1 },
    });
    assert.equal(ok.statusCode, 201, ok.body);
  });
});
