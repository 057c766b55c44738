/**
 * Every way BullMQ can end an attempt must show in Postgres: here the training child dies alone
 * (SIGKILL, as the OOM killer would), the worker survives, and the job goes back to "queued" with
 * the reason, then, when the second and last attempt dies too, to "failed" with a code a user can
 * act on, instead of staying "running" forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  childrenOf,
  createTestService,
  eventually,
  tinySpec,
  type TestService,
  type WorkerHandle,
} from '../helpers/service.js';

describe('job endings the training code cannot report', () => {
  let svc: TestService;
  let auth: string;
  let worker: WorkerHandle;

  before(async () => {
    svc = await createTestService('endings', { JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '100' });
    auth = await svc.auth('acme');
    worker = await svc.startWorker();
  });
  after(async () => svc?.close());

  const job = async (id: string) =>
    (await svc.app.inject({ url: `/v1/jobs/${id}`, headers: { authorization: auth } })).json();
  const events = async (id: string) =>
    (
      await svc.app.inject({ url: `/v1/jobs/${id}/events`, headers: { authorization: auth } })
    ).json().items as { status: string; message: string }[];

  /** Waits until the job trains (its child exists and the job is running), then kills that child alone. */
  async function killTrainingChild(id: string): Promise<void> {
    const child = await eventually(async () => {
      const j = await job(id);
      const kids = childrenOf(worker.process.pid!);
      return j.status === 'running' && j.progress.iteration > 0 && kids.length === 1
        ? kids[0]
        : undefined;
    });
    process.kill(child, 'SIGKILL');
  }

  it('a child killed on the first attempt: queued again with the reason; on the last: failed, TRAINING_PROCESS_DIED', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: tinySpec({ iterationsPerTask: 1_000_000 }),
    });
    const id = res.json().id;

    await killTrainingChild(id);
    await eventually(
      async () =>
        (await events(id)).some(
          (e) =>
            e.status === 'queued' &&
            /attempt 1 failed \(TRAINING_PROCESS_DIED\)/.test(e.message ?? ''),
        )
          ? true
          : undefined,
      50,
      30_000,
    ).catch(async (e) => {
      throw new Error(
        `${e.message}\nevents: ${JSON.stringify(await events(id))}\nworker: ${worker.output()}`,
      );
    });

    await killTrainingChild(id);
    const failed = await eventually(async () => {
      const j = await job(id);
      return j.status === 'failed' ? j : undefined;
    });
    assert.equal(failed.error.code, 'TRAINING_PROCESS_DIED');
    assert.match(failed.error.message, /killed by SIGKILL \(2 attempts\).*memory/);
    assert.equal(failed.attempts, 2);
    assert.equal(worker.process.exitCode, null, 'the worker itself survives');
  });
});
