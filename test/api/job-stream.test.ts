/**
 * GET /v1/jobs/:id/stream over real sockets, with a real worker process writing the events and
 * two API instances (each with its own LISTEN connection) serving them: the whole life of a job
 * in order, the same to every client, resumed after a disconnect without gaps or duplicates, the
 * end at the final event, and the refusals.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createApiContext, type ApiContext } from '../../src/http/context.js';
import { SseClient, type SseEvent } from '../helpers/sse-client.js';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

/** Stored events as comparable lines. */
const lines = (events: SseEvent[]) =>
  events.filter((e) => e.id !== null).map((e) => `${e.id} ${e.event} ${JSON.stringify(e.data)}`);

describe('job event stream (SSE)', () => {
  let svc: TestService;
  let auth: string;
  let other: string;
  let base: string;
  let base2: string;
  let ctx2: ApiContext;
  let app2: FastifyInstance;

  const listen = async (app: FastifyInstance) => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };
  const stream = (root: string, id: string, headers: Record<string, string> = {}, query = '') =>
    SseClient.connect(`${root}/v1/jobs/${id}/stream${query}`, { authorization: auth, ...headers });
  const submit = async (spec: object) => {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(spec),
    });
    assert.equal(res.status, 201);
    return ((await res.json()) as { id: string }).id;
  };
  const refusal = async (p: Promise<SseClient>) => {
    const err = await p.then(
      () => assert.fail('the stream opened'),
      (e: { answer?: { status: number; body: { error: { code: string; message: string } } } }) => e,
    );
    assert.ok(err.answer, JSON.stringify(err));
    return err.answer;
  };

  before(async () => {
    svc = await createTestService('stream', {
      STREAM_HEARTBEAT_MS: '200',
      STREAM_PROGRESS_MS: '200',
    });
    auth = await svc.auth('acme');
    other = await svc.auth('globex');
    base = await listen(svc.app);
    // A second API process, as far as the stream is concerned: its own app, pool and LISTEN connection.
    ctx2 = createApiContext(svc.config);
    app2 = await buildApp({ ...ctx2.deps, docsUi: false });
    base2 = await listen(app2);
    await svc.startWorker();
  });
  after(async () => {
    await app2?.close();
    await ctx2?.close();
    await svc?.close();
  });

  it('delivers the whole life of a job in order to every client, and resumes after a disconnect without gaps or duplicates', async () => {
    const id = await submit(tinySpec());
    const [full, second, early] = await Promise.all([
      stream(base, id),
      stream(base2, id),
      stream(base, id),
    ]);
    // `early` goes away after the first loss; it comes back after the first task, while the job runs.
    const firstLoss = await early.waitFor((e) => e.event === 'job.loss');
    early.close();
    await full.waitFor((e) => e.event === 'job.task_completed');
    const resumed = await stream(base2, id, { 'last-event-id': String(early.lastId) });
    await Promise.all([
      full.waitForEnd(120_000),
      second.waitForEnd(10_000),
      resumed.waitForEnd(10_000),
    ]);

    const stored = full.stored;
    assert.deepEqual(
      stored.map((e) => e.id),
      stored.map((_, i) => i + 1),
      'ids are 1, 2, 3, ... without gaps',
    );
    assert.deepEqual(
      lines(second.events),
      lines(full.events),
      'the other API instance sent the same events',
    );
    assert.ok(early.lastId! >= firstLoss.id!);
    assert.equal(resumed.stored[0].id, early.lastId! + 1);
    assert.deepEqual(
      [...lines(early.events), ...lines(resumed.events)],
      lines(full.events),
      'disconnect + resume = the whole stream',
    );

    // The life of the job, in order.
    assert.deepEqual(stored[0].data, {
      jobId: id,
      status: 'queued',
      message: 'submitted',
      at: stored[0].data.at,
    });
    assert.equal(stored[1].event, 'job.status');
    assert.equal(stored[1].data.status, 'running');
    assert.deepEqual(
      stored.slice(-2).map((e) => e.event),
      ['job.status', 'job.succeeded'],
    );
    assert.equal(stored[stored.length - 2].data.status, 'succeeded');
    const losses = stored
      .filter((e) => e.event === 'job.loss')
      .map((e) => `${String(e.data.task)}:${String(e.data.iteration)}`);
    assert.deepEqual(losses, [
      '0:0',
      '0:10',
      '0:20',
      '0:30',
      '0:39',
      '1:0',
      '1:10',
      '1:20',
      '1:30',
      '1:39',
    ]);
    const validations = stored
      .filter((e) => e.event === 'job.validation')
      .map((e) => `${String(e.data.task)}:${String(e.data.iteration)}`);
    assert.deepEqual(validations, ['0:9', '0:19', '0:29', '0:39', '1:9', '1:19', '1:29', '1:39']);
    const completed = stored.filter((e) => e.event === 'job.task_completed');
    assert.deepEqual(
      completed.map((e) => e.data.task),
      [0, 1],
    );
    const at = (pred: (e: SseEvent) => boolean) => stored.findIndex(pred);
    const done0 = at((e) => e.event === 'job.task_completed' && e.data.task === 0);
    assert.ok(
      done0 > at((e) => e.event === 'job.loss' && e.data.task === 0 && e.data.iteration === 39),
      'task 0 completes after its last loss',
    );
    assert.ok(
      done0 < at((e) => e.event === 'job.loss' && e.data.task === 1),
      '... and before task 1 starts',
    );
    const metrics = (await (
      await fetch(`${base}/v1/jobs/${id}/metrics`, { headers: { authorization: auth } })
    ).json()) as { accuracyMatrix: number[][]; averageAccuracy: number };
    assert.deepEqual(
      completed.map((e) => e.data.accuracies),
      metrics.accuracyMatrix,
      'task_completed carries the rows of the accuracy matrix',
    );
    const final = stored[stored.length - 1].data;
    assert.deepEqual(final.accuracyMatrix, metrics.accuracyMatrix);
    assert.equal(final.averageAccuracy, metrics.averageAccuracy);

    // Progress: no id, an ETA while running; heartbeats in between.
    const progress = full.events.filter((e) => e.event === 'job.progress');
    assert.ok(progress.length >= 1, 'progress events');
    assert.ok(
      progress.every(
        (e) =>
          e.id === null &&
          e.data.jobId === id &&
          typeof e.data.etaMs === 'number' &&
          typeof e.data.fraction === 'number',
      ),
    );
    assert.ok(full.comments.includes('heartbeat'), 'heartbeats');
  });

  it('replays a finished job from any position and ends; ends at once after the last event', async () => {
    const { items } = (await (
      await fetch(`${base}/v1/jobs?limit=1`, { headers: { authorization: auth } })
    ).json()) as { items: { id: string }[] };
    const id = items[0].id;
    const whole = await stream(base, id);
    await whole.waitForEnd(10_000);
    const last = whole.lastId!;
    assert.equal(whole.stored[whole.stored.length - 1].event, 'job.succeeded');
    assert.equal(
      whole.events.filter((e) => e.event === 'job.progress').length,
      0,
      'no progress for a finished job',
    );
    const tail = await stream(base2, id, {}, `?lastEventId=${last - 2}`);
    await tail.waitForEnd(10_000);
    assert.deepEqual(lines(tail.events), lines(whole.events).slice(-2));
    const nothing = await stream(base, id, { 'last-event-id': String(last) });
    await nothing.waitForEnd(10_000);
    assert.deepEqual(nothing.events, []);
  });

  it('ends with job.cancelled when the job is cancelled while streaming, after its progress', async () => {
    const id = await submit(tinySpec({ iterationsPerTask: 100_000 }));
    const s = await stream(base, id);
    await s.waitFor((e) => e.event === 'job.progress' && (e.data.iteration as number) > 0);
    const res = await fetch(`${base}/v1/jobs/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: auth },
    });
    assert.equal(res.status, 200);
    await s.waitForEnd(10_000);
    assert.deepEqual(
      s.stored.slice(-2).map((e) => `${e.event} ${String(e.data.status ?? e.data.message)}`),
      ['job.status cancelled', 'job.cancelled cancelled by the client'],
    );
  });

  it('ends the streams of a key at the heartbeat after it was revoked', async () => {
    const id = await submit(tinySpec({ iterationsPerTask: 100_000 }));
    const created = await fetch(`${base}/v1/keys`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'short-lived' }),
    });
    assert.equal(created.status, 201);
    const key = (await created.json()) as { id: string; key: string };
    const s = await SseClient.connect(`${base}/v1/jobs/${id}/stream`, {
      authorization: `Bearer ${key.key}`,
    });
    await s.waitFor((e) => e.id === 1);
    assert.equal(
      (
        await fetch(`${base}/v1/keys/${key.id}`, {
          method: 'DELETE',
          headers: { authorization: auth },
        })
      ).status,
      200,
    );
    await s.waitForEnd(10_000);
    assert.ok(
      !s.events.some((e) => e.event === 'job.cancelled'),
      'ended by the revocation, not by the job',
    );
    assert.equal(
      (
        await fetch(`${base}/v1/jobs/${id}/cancel`, {
          method: 'POST',
          headers: { authorization: auth },
        })
      ).status,
      200,
    );
  });

  it("answers 404 for another tenant's job, 401 without a key and 400 for a bad Last-Event-ID, in the API's error shape", async () => {
    const { items } = (await (
      await fetch(`${base}/v1/jobs?limit=1`, { headers: { authorization: auth } })
    ).json()) as { items: { id: string }[] };
    const id = items[0].id;
    const foreign = await refusal(
      SseClient.connect(`${base}/v1/jobs/${id}/stream`, { authorization: other }),
    );
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.code, 'JOB_NOT_FOUND');
    const anonymous = await refusal(SseClient.connect(`${base}/v1/jobs/${id}/stream`, {}));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'UNAUTHORIZED');
    const beyond = await refusal(stream(base, id, { 'last-event-id': '100000' }));
    assert.equal(beyond.status, 400);
    assert.equal(beyond.body.error.code, 'INVALID_EVENT_ID');
    assert.match(beyond.body.error.message, /beyond the last event of job/);
    const malformed = await refusal(stream(base, id, { 'last-event-id': 'abc' }));
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'INVALID_REQUEST');
    assert.match(malformed.body.error.message, /last-event-id/);
  });
});
