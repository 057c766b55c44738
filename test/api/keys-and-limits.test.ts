/**
 * Operator controls over HTTP on the real Postgres and Redis: API keys named, listed and revoked
 * by their tenant (a revoked key answers 401 at once here and within API_KEY_CACHE_MS on another
 * API process), rate limits per key counted in Redis (429 RATE_LIMITED with Retry-After, health
 * routes exempt), and the per-tenant cap on queued plus running jobs, which concurrent
 * submissions cannot pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/http/app.js';
import { createApiContext } from '../../src/http/context.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';
import { tcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

describe('API keys', () => {
  let svc: TestService;
  let alice: string;
  let bob: string;

  before(async () => {
    svc = await createTestService('api_keys', { API_KEY_CACHE_MS: '400' });
    alice = await svc.auth('alice');
    bob = await svc.auth('bob');
  });
  after(async () => svc?.close());

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    authorization: string,
    payload?: object,
  ) => svc.app.inject({ method, url, headers: { authorization }, ...(payload ? { payload } : {}) });

  it('creates a named key shown once, lists it with its last use, and revokes it: 401 at once', async () => {
    const created = await call('POST', '/v1/keys', alice, { name: 'ci runner' });
    assert.equal(created.statusCode, 201, created.body);
    const { id, key, name, prefix, revokedAt } = created.json();
    assert.equal(name, 'ci runner');
    assert.equal(revokedAt, null);
    assert.ok(key.startsWith(prefix) && key.length > 40);
    const withNewKey = `Bearer ${key}`;
    assert.equal((await call('GET', '/v1/jobs', withNewKey)).statusCode, 200);

    const listed = await eventually(
      async () => {
        const items = (await call('GET', '/v1/keys', alice)).json().items as {
          id: string;
          lastUsedAt: string | null;
          key?: string;
        }[];
        return items.find((k) => k.id === id && k.lastUsedAt !== null) ? items : undefined;
      },
      50,
      10_000,
    );
    assert.equal(listed.length, 2, 'the helper key and the new one');
    assert.ok(
      listed.every((k) => k.key === undefined),
      'a listing never shows a key',
    );
    assert.deepEqual(
      (await call('GET', '/v1/keys', bob))
        .json()
        .items.map((k: { id: string }) => k.id)
        .includes(id),
      false,
    );

    const revoked = await call('DELETE', `/v1/keys/${id}`, alice);
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.ok(revoked.json().revokedAt);
    const refused = await call('GET', '/v1/jobs', withNewKey);
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().error.code, 'UNAUTHORIZED');
    // Revoking again changes nothing.
    assert.equal(
      (await call('DELETE', `/v1/keys/${id}`, alice)).json().revokedAt,
      revoked.json().revokedAt,
    );
  });

  it("answers 404 for another tenant's key or an unknown id, 400 for a bad id or name", async () => {
    const bobs = (await call('POST', '/v1/keys', bob, {})).json();
    for (const url of [`/v1/keys/${bobs.id}`, `/v1/keys/${UNKNOWN}`]) {
      const res = await call('DELETE', url, alice);
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'API_KEY_NOT_FOUND');
    }
    assert.equal(
      (await call('GET', '/v1/jobs', `Bearer ${bobs.key}`)).statusCode,
      200,
      "bob's key still works",
    );
    assert.equal((await call('DELETE', '/v1/keys/not-a-uuid', alice)).statusCode, 400);
    for (const name of ['x'.repeat(101), 'a\u0000b', '']) {
      const res = await call('POST', '/v1/keys', alice, { name });
      assert.equal(res.statusCode, 400, JSON.stringify(name));
      assert.match(res.json().error.message, /name/);
    }
  });

  it('a key revoked on one API process stops working on another within API_KEY_CACHE_MS', async () => {
    const other = createApiContext(svc.config);
    const otherApp = await buildApp({ ...other.deps, docsUi: false });
    try {
      const { id, key } = (await call('POST', '/v1/keys', alice, { name: 'two processes' })).json();
      const onOther = () =>
        otherApp.inject({
          method: 'GET',
          url: '/v1/jobs',
          headers: { authorization: `Bearer ${key}` },
        });
      assert.equal(
        (await onOther()).statusCode,
        200,
        'the other process now holds the key in its cache',
      );
      assert.equal((await call('DELETE', `/v1/keys/${id}`, alice)).statusCode, 200);
      const started = Date.now();
      await eventually(
        async () => ((await onOther()).statusCode === 401 ? true : undefined),
        50,
        5_000,
      );
      assert.ok(
        Date.now() - started < 2_000,
        `took ${Date.now() - started} ms with a 400 ms cache`,
      );
    } finally {
      await otherApp.close();
      await other.close();
    }
  });
});

describe('rate limits and the active-jobs cap', () => {
  let svc: TestService;

  before(async () => {
    svc = await createTestService('rate_limits', {
      RATE_LIMIT_MAX: '5',
      RATE_LIMIT_WINDOW_MS: '60000',
      MAX_ACTIVE_JOBS_PER_TENANT: '3',
    });
  });
  after(async () => svc?.close());

  it('answers 429 RATE_LIMITED with Retry-After after RATE_LIMIT_MAX requests of one key; other keys and health routes are unaffected', async () => {
    const [carol, dave] = [await svc.auth('carol'), await svc.auth('dave')];
    const get = (authorization: string) =>
      svc.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization } });
    for (let i = 0; i < 5; i++)
      assert.equal((await get(carol)).statusCode, 200, `request ${i + 1}`);
    const limited = await get(carol);
    assert.equal(limited.statusCode, 429, limited.body);
    assert.equal(limited.json().error.code, 'RATE_LIMITED');
    assert.match(limited.json().error.message, /retry in \d+ s/);
    assert.ok(
      Number(limited.headers['retry-after']) > 0,
      `retry-after: ${limited.headers['retry-after']}`,
    );
    assert.equal((await get(dave)).statusCode, 200, 'another key has its own count');
    for (let i = 0; i < 8; i++)
      assert.equal((await svc.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  it('refuses a submission over MAX_ACTIVE_JOBS_PER_TENANT with 429, also when submissions race', async () => {
    const erin = await svc.auth('erin');
    const submit = () =>
      svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: erin },
        payload: tinySpec(),
      });
    // Four at once against a cap of three (under the rate limit of 5 a minute).
    const answers = await Promise.all(Array.from({ length: 4 }, submit));
    const statuses = answers.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [201, 201, 201, 429], answers.map((r) => r.body).join('\n'));
    const refused = answers.find((r) => r.statusCode === 429)!;
    assert.equal(refused.json().error.code, 'TOO_MANY_ACTIVE_JOBS');
    assert.match(refused.json().error.message, /3 queued or running jobs/);
    const { rows } = await svc.pool.query(
      `SELECT count(*)::int AS n FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE t.name LIKE 'erin-%'`,
    );
    assert.equal(rows[0].n, 3);
  });
});

describe('rate limits while Redis is unreachable', () => {
  let relay: TcpRelay;
  let svc: TestService;

  before(async () => {
    relay = await tcpRelay(6379);
    svc = await createTestService('rate_limit_redis_gone', {
      REDIS_URL: `redis://127.0.0.1:${relay.port}`,
      RATE_LIMIT_MAX: '3',
    });
  });
  after(async () => {
    await svc?.close();
    await relay?.close();
  });

  it('lets requests through rather than failing them or hanging: the limiter is not a dependency of reads', async () => {
    const frank = await svc.auth('frank');
    const get = () =>
      svc.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: frank } });
    for (let i = 0; i < 3; i++) assert.equal((await get()).statusCode, 200);
    assert.equal((await get()).statusCode, 429, 'the limit holds while Redis answers');
    relay.cut();
    const started = Date.now();
    for (let i = 0; i < 3; i++)
      assert.equal((await get()).statusCode, 200, `request ${i + 1} with Redis gone`);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });
});
