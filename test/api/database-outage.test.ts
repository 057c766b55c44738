/**
 * Postgres unreachable: every /v1 route answers 503 DATABASE_UNAVAILABLE with Retry-After (not
 * 500 INTERNAL), without naming hosts or drivers, and the API recovers by itself when Postgres is
 * back. The service reaches Postgres through a relay the test cuts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';
import { tcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

describe('Postgres outage', () => {
  let relay: TcpRelay;
  let svc: TestService;
  let auth: string;
  let jobId: string;

  before(async () => {
    relay = await tcpRelay(5432);
    svc = await createTestService('dbdown', {}, { databasePort: relay.port });
    auth = await svc.auth('acme');
    jobId = (
      await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: auth },
        payload: tinySpec(),
      })
    ).json().id;
  });
  after(async () => {
    relay?.restore();
    await svc?.close();
    await relay?.close();
  });

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After on every route while it is down, and recovers', async () => {
    relay.cut();
    const routes: [string, string, object?][] = [
      ['GET', '/v1/jobs'],
      ['GET', `/v1/jobs/${jobId}`],
      ['POST', '/v1/jobs', tinySpec()],
      ['GET', `/v1/jobs/${jobId}/metrics`],
      ['GET', '/v1/datasets'],
      ['GET', `/v1/datasets/${randomUUID()}`],
      ['POST', `/v1/jobs/${jobId}/predict`, { inputs: [[1]] }],
    ];
    for (const [method, url, payload] of routes) {
      const res = await svc.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: auth },
        payload,
      });
      assert.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'DATABASE_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');
      assert.doesNotMatch(res.body, /127\\.0\\.0\\.1|5432|ECONN|prisma|pg\\b/i);
    }
    relay.restore();
    await eventually(
      async () =>
        (await svc.app.inject({ url: '/v1/jobs', headers: { authorization: auth } })).statusCode ===
        200
          ? true
          : undefined,
      200,
      30_000,
    );
  });
});
