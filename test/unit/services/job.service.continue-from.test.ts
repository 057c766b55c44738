import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpecError } from '../../../src/core/index.js';
import { ServiceError } from '../../../src/services/errors.js';
import { JobService } from '../../../src/services/jobs/job.service.js';
import { MemoryJobs, MemoryQueue } from '../../helpers/fakes/in-memory.js';

const spec = {
  benchmark: { dataset: 'mnist', tasks: 2 },
  network: { hidden: [16] },
  training: { iterationsPerTask: 5 },
};

/** A service with one succeeded job of tenant t1 (2 tasks, results stored). */
async function setup() {
  const jobs = new MemoryJobs();
  const service = new JobService(jobs, new MemoryQueue());
  const source = (await service.submit('t1', { body: spec })).job;
  jobs.jobs.set(source.id, {
    ...jobs.jobs.get(source.id)!,
    status: 'succeeded',
    completedTasks: 2,
  });
  jobs.results.set(source.id, [
    { task: 0, accuracies: [0.9], durationMs: 1, msPerIteration: 1 },
    { task: 1, accuracies: [0.8, 0.95], durationMs: 1, msPerIteration: 1 },
  ]);
  jobs.checkpoints.set(source.id, Uint8Array.of(1, 2, 3));
  return { jobs, service, source };
}

const rejectsWith = async (p: Promise<unknown>, field: string, message: RegExp) =>
  assert.rejects(
    p,
    (err: unknown) => err instanceof SpecError && err.field === field && message.test(err.message),
  );

describe('JobService: continueFrom', () => {
  it("appends the new tasks to the source's spec and takes over its checkpoint and results", async () => {
    const { jobs, service, source } = await setup();
    const { job } = await service.submit('t1', {
      body: { continueFrom: source.id, benchmark: { tasks: 1 }, network: { hidden: [16] } },
    });
    assert.equal(job.spec.benchmark.tasks, 3);
    assert.deepEqual({ ...job.spec, benchmark: { ...job.spec.benchmark, tasks: 2 } }, source.spec);
    assert.equal(job.continueFrom, source.id);
    assert.equal(job.inheritedTasks, 2);
    assert.equal(job.completedTasks, 2);
    assert.deepEqual(jobs.results.get(job.id), jobs.results.get(source.id));
    assert.deepEqual(jobs.checkpoints.get(job.id), Uint8Array.of(1, 2, 3));
  });

  it('refuses unknown, foreign and unfinished jobs, conflicting fields and a missing task list', async () => {
    const { jobs, service, source } = await setup();
    await rejectsWith(
      service.submit('t2', { body: { continueFrom: source.id, benchmark: { tasks: 1 } } }),
      'continueFrom',
      /no job/,
    );
    await rejectsWith(
      service.submit('t1', { body: { continueFrom: 'nope', benchmark: { tasks: 1 } } }),
      'continueFrom',
      /no job/,
    );
    await rejectsWith(
      service.submit('t1', {
        body: { continueFrom: source.id, method: 'hnet', benchmark: { tasks: 1 } },
      }),
      'method',
      /conflicts with "hypermask"/,
    );
    await rejectsWith(
      service.submit('t1', {
        body: { continueFrom: source.id, benchmark: { tasks: 1, classesPerTask: 3 } },
      }),
      'benchmark.classesPerTask',
      /conflicts/,
    );
    await rejectsWith(
      service.submit('t1', {
        body: { continueFrom: source.id, training: { iterationsPerTask: 6 } },
      }),
      'benchmark.tasks',
      /required with continueFrom/,
    );
    await rejectsWith(
      service.submit('t1', { body: { continueFrom: source.id, benchmark: { tasks: [] } } }),
      'benchmark.tasks',
      /./,
    );
    await rejectsWith(
      service.submit('t1', {
        body: { continueFrom: source.id, bogus: 1, benchmark: { tasks: 1 } },
      }),
      'bogus',
      /unknown field/,
    );
    const running = (await service.submit('t1', { body: spec })).job.id;
    await jobs.markRunning(running, 'lease', 'cpu', 'test');
    await assert.rejects(
      service.submit('t1', { body: { continueFrom: running, benchmark: { tasks: 1 } } }),
      (err: unknown) =>
        err instanceof ServiceError &&
        err.code === 'CONTINUE_FROM_NOT_SUCCEEDED' &&
        /is running/.test(err.message),
    );
    assert.equal(jobs.jobs.size, 2, 'nothing stored');
  });
});
