/**
 * Checkpoints within a task, through the real worker process: a job of epoch-length tasks with
 * the plateau rule and best-validation selection stores a checkpoint at its epoch ends
 * (EPOCH_CHECKPOINT_MS=0), is SIGKILLed in the middle of its first task, and a new worker resumes
 * it from that checkpoint and ends with the results and exported weights of an uninterrupted job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

describe('worker crash within a task', () => {
  let svc: TestService;
  let auth: string;

  before(async () => {
    svc = await createTestService('recovery_in_task', { EPOCH_CHECKPOINT_MS: '0' });
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

  const submit = async (payload: object) => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };
  const get = (url: string) => svc.app.inject({ url, headers: { authorization: auth } });
  const finished = (id: string) =>
    eventually(async () => {
      const j = (await get(`/v1/jobs/${id}`)).json();
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    });
  const rows = async (id: string) =>
    (await svc.db.taskResult.findMany({ where: { jobId: id }, orderBy: { task: 'asc' } })).map(
      (r) => r.accuracies,
    );

  it('SIGKILL mid first task: a new worker resumes at the last epoch end and ends with the uninterrupted results', async () => {
    const base = tinySpec({ tasks: 2, seed: 13 });
    // 80 training samples per task, batch 32: 3 iterations per epoch, 180 per task.
    const spec = {
      ...base,
      training: {
        ...base.training,
        iterationsPerTask: null,
        epochsPerTask: 60,
        lrSchedule: 'plateau',
        modelSelection: 'best-validation',
      },
    };
    const id = await submit(spec);
    const first = await svc.startWorker();
    // A checkpoint within task 0 is stored (the checkpoints row exists before any task ended).
    await eventually(async () => {
      const row = await svc.db.checkpoint.findUnique({ where: { jobId: id } });
      return row && row.completedTasks === 0 ? row : undefined;
    });
    first.process.kill('SIGKILL');
    await first.exited;
    const interrupted = (await get(`/v1/jobs/${id}`)).json();
    assert.equal(interrupted.status, 'running');
    assert.equal(interrupted.progress.completedTasks, 0, 'killed during the first task');
    assert.ok(interrupted.progress.iteration > 0);

    const second = await svc.startWorker();
    const done = await finished(id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);

    const reference = await submit(spec);
    const refDone = await finished(reference);
    assert.equal(refDone.status, 'succeeded');
    assert.equal(refDone.attempts, 1);
    assert.deepEqual(await rows(id), await rows(reference));
    for (const task of [0, 1]) {
      for (const file of ['mask', 'model/weights.bin']) {
        const [a, b] = await Promise.all(
          [id, reference].map((j) => get(`/v1/jobs/${j}/tasks/${task}/${file}`)),
        );
        assert.equal(a.statusCode, 200, a.body);
        assert.ok(a.rawPayload.equals(b.rawPayload), `task ${task} ${file} differs`);
      }
    }
    second.process.kill('SIGKILL');
    await second.exited;
  });
});
