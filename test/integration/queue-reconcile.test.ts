/**
 * Jobs the queue lost (Redis restarted without AOF) are put back by JobService.reconcile, against
 * the real Postgres and Redis: only queued/running jobs missing from the queue, never finished or
 * cancelled ones, and not a job submitted within the grace period.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

let svc: TestService;
let auth: string;
before(async () => {
  svc = await createTestService('reconcile');
  auth = await svc.auth('acme');
});
after(async () => svc?.close());

async function submit(): Promise<string> {
  const res = await svc.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { authorization: auth },
    payload: tinySpec(),
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

it('re-queues only unfinished jobs that the queue has lost, after the grace period', async () => {
  const kept = await submit();
  const lost = await submit();
  const cancelled = await submit();
  const cancel = await svc.app.inject({
    method: 'POST',
    url: `/v1/jobs/${cancelled}/cancel`,
    headers: { authorization: auth },
  });
  assert.equal(cancel.statusCode, 200, cancel.body);
  const queue = svc.ctx.queue.queue;
  await (await queue.getJob(lost))!.remove();
  assert.equal(await queue.getJob(lost), undefined);

  const jobs = svc.ctx.deps.jobs;
  assert.deepEqual(
    await jobs.reconcile(new Date(), 60_000),
    [],
    'a job updated just now is within the grace period',
  );
  const later = new Date(Date.now() + 120_000);
  assert.deepEqual(await jobs.reconcile(later, 60_000), [lost]);
  assert.ok(await queue.getJob(lost), 'the lost job is back on the queue');
  assert.equal(await queue.getJob(cancelled), undefined, 'a cancelled job stays off the queue');
  assert.ok(await queue.getJob(kept));
  assert.deepEqual(await jobs.reconcile(later, 60_000), [], 'a second pass finds nothing missing');
});
