/**
 * Error bodies never carry what only the operator should see: hosts and ports, driver and
 * library messages, stacks. The detail goes to the log instead. Each outage here is real: a
 * database or Redis on a closed port, or a relay to the real Redis that the test cuts.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { inertServices } from '../../scripts/openapi.js';
import { loadEnv } from '../../src/config/env.js';
import { buildApp } from '../../src/http/app.js';
import { createApiContext } from '../../src/http/context.js';
import { tcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';
import { createTestService, sleep, tinySpec, type TestService } from '../helpers/service.js';

const CLOSED = '127.0.0.1:1';
/** Text that only a dependency would write: drivers, ioredis, Prisma, sockets, stacks. */
const INTERNALS =
  /127\.0\.0\.1|:1\b|localhost|ECONN|Stream isn't writeable|enableOfflineQueue|Connection is closed|Can't reach|database server|prisma|ioredis|redis:\/\/|postgres|\bat \S+:\d+|Maximum call stack|circular/i;

/** Collects a Fastify logger's lines, so that a test can check the detail went there. */
function logSink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: { level: 'warn', stream }, text: () => text };
}

/** Resolves when `fn` is true; fails after `ms`. */
async function until(what: string, fn: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

/** The promise, or a failure after `ms` (a request must not hang on an outage). */
function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

function assertClean(body: string, what: string) {
  assert.doesNotMatch(body, INTERNALS, `${what} leaks internals: ${body}`);
}

describe('/readyz with the database and Redis on a closed port', () => {
  it('says "unreachable" per check and logs the real error', async () => {
    const ctx = createApiContext(
      loadEnv({
        DATABASE_URL: `postgresql://postgres@${CLOSED}/postgres`,
        REDIS_URL: `redis://${CLOSED}`,
      }),
    );
    const log = logSink();
    const app = await buildApp({ ...ctx.deps, docsUi: false, logger: log.logger });
    try {
      const res = await within('GET /readyz', app.inject({ url: '/readyz' }));
      assert.equal(res.statusCode, 503, res.body);
      assertClean(res.body, '/readyz');
      assert.deepEqual(res.json(), {
        status: 'not ready',
        checks: {
          database: { ok: false, error: 'unreachable' },
          redis: { ok: false, error: 'unreachable' },
        },
      });
      assert.match(
        log.text(),
        /ECONNREFUSED|Can't reach|Stream isn't writeable/,
        'the log keeps the cause',
      );
    } finally {
      await app.close();
      await within('closing', ctx.close());
    }
  });

  it('says "timed out" for a check that does not answer', async () => {
    const app = await buildApp({
      ...inertServices(),
      readiness: { database: () => new Promise(() => {}) },
      docsUi: false,
    });
    const res = await within('GET /readyz', app.inject({ url: '/readyz' }));
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json().checks, { database: { ok: false, error: 'timed out' } });
    await app.close();
  });
});

describe('submitting a job while Redis has never been reachable', () => {
  let svc: TestService;
  let auth: string;
  before(async () => {
    svc = await createTestService('redisnever', { REDIS_URL: `redis://${CLOSED}` });
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

  it('answers 503 QUEUE_UNAVAILABLE at once, in our words, and stores nothing', async () => {
    const res = await within(
      'POST /v1/jobs',
      svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: auth },
        payload: tinySpec(),
      }),
    );
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().error.code, 'QUEUE_UNAVAILABLE');
    assertClean(res.body, 'POST /v1/jobs');
    assert.equal(await svc.db.job.count(), 0);
  });
});

describe('submitting a job after Redis went away', () => {
  let svc: TestService;
  let auth: string;
  let relay: TcpRelay;
  const log = logSink();
  before(async () => {
    // A relay to the real Redis that the test can cut: this service loses Redis, the others keep it.
    relay = await tcpRelay(6379);
    svc = await createTestService('redisgone', { REDIS_URL: `redis://127.0.0.1:${relay.port}` });
    auth = await svc.auth('acme');
  });
  after(async () => {
    await relay?.close();
    // The service's own connection is cut: remove its queue through a new one.
    if (svc) {
      const queue = new Queue(svc.config.QUEUE_NAME, {
        connection: { host: '127.0.0.1', port: 6379 },
        prefix: svc.config.QUEUE_PREFIX,
      });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await svc?.close();
  });

  const submit = (app = svc.app) =>
    within(
      'POST /v1/jobs',
      app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: auth },
        payload: tinySpec(),
      }),
    );

  it('answers 503 QUEUE_UNAVAILABLE without ioredis text, stores nothing, and logs the cause', async () => {
    // An app of its own with a logger, on the same dependencies as the test service.
    const app = await buildApp({ ...svc.ctx.deps, docsUi: false, logger: log.logger });
    try {
      assert.equal((await submit(app)).statusCode, 201, 'Redis is up at first');
      relay.cut();
      await until(
        'the producer notices the outage',
        () => svc.ctx.queue.connection.status !== 'ready',
      );
      const res = await submit(app);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, 'QUEUE_UNAVAILABLE');
      assertClean(res.body, 'POST /v1/jobs');
      assert.equal(await svc.db.job.count(), 1, 'only the job submitted before the outage');
      assert.match(log.text(), /QUEUE_UNAVAILABLE|queue/i);
      assert.match(
        log.text(),
        /Stream isn't writeable|Connection is closed|ECONNREFUSED|Redis/,
        'the log keeps the cause',
      );
      const ready = await within('GET /readyz', app.inject({ url: '/readyz' }));
      assert.deepEqual(ready.json().checks.redis, { ok: false, error: 'unreachable' });
    } finally {
      await app.close();
    }
  });
});

describe('an error that cannot be described', () => {
  it('still answers {"error": {code, message}} and logs it', async () => {
    const log = logSink();
    const app = await buildApp({
      ...inertServices(),
      readiness: {},
      docsUi: false,
      logger: log.logger,
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    // A validation error whose offending value cannot be printed (JSON.stringify throws on it).
    app.get('/broken', async () => {
      throw Object.assign(new Error('bad'), {
        validation: [
          { keyword: 'type', instancePath: '/a', params: { type: 'string' }, data: circular },
        ],
        validationContext: 'body',
      });
    });
    const res = await app.inject({ url: '/broken' });
    assert.equal(res.statusCode, 500, res.body);
    assert.deepEqual(Object.keys(res.json()), ['error']);
    assert.equal(res.json().error.code, 'INTERNAL');
    assertClean(res.body, 'GET /broken');
    assert.match(log.text(), /circular/i, 'the log keeps the cause');
    await app.close();
  });
});
