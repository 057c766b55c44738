/**
 * Bodies under the size limit that used to crash the API: nesting so deep that validation
 * messages, the idempotency hash and storage overflowed the stack (500, or Fastify's own body),
 * and metadata of any size. Each must answer 400 in our error shape; bodies just inside the
 * limits are accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_JSON_DEPTH } from '../../src/http/json-body.js';
import { METADATA_MAX_BYTES } from '../../src/services/jobs/job.service.js';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

const N = 100_000;
const nested = (open: string, inner: string, close: string, n: number) =>
  open.repeat(n) + inner + close.repeat(n);
const spec = JSON.stringify(tinySpec()).slice(1, -1);

const tooDeep: { name: string; body: string; headers?: Record<string, string> }[] = [
  {
    name: 'metadata holding 100,000 nested arrays',
    body: `{"metadata":{"a":${nested('[', '', ']', N)}}}`,
  },
  {
    name: 'metadata that is 100,000 nested arrays',
    body: `{"metadata":${nested('[', '', ']', N)}}`,
  },
  {
    name: 'a spec field nested 50,000 objects deep',
    body: `{"network":${nested('{"a":', '1', '}', 50_000)}}`,
  },
  {
    name: 'a spec array nested 100,000 deep',
    body: `{"network":{"hidden":${nested('[', '', ']', N)}}}`,
  },
  {
    name: 'a deep body with an Idempotency-Key (hashed)',
    body: `{${spec},"metadata":{"a":${nested('[', '', ']', N)}}}`,
    headers: { 'idempotency-key': 'deep' },
  },
  { name: 'a deep body that is not even closed', body: `{"metadata":${'['.repeat(N)}` },
  {
    name: 'one level too deep',
    body: `{${spec},"metadata":{"a":${nested('[', '1', ']', MAX_JSON_DEPTH - 1)}}}`,
  },
];

describe('request body limits', () => {
  let svc: TestService;
  let auth: string;
  before(async () => {
    svc = await createTestService('bodylimits');
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

  const post = (body: string, headers: Record<string, string> = {}) =>
    svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      payload: body,
    });

  for (const c of tooDeep) {
    it(`${c.name} -> 400 INVALID_JSON`, async () => {
      assert.ok(c.body.length < svc.config.API_RATE_BODY_LIMIT, 'under the size limit');
      const res = await post(c.body, c.headers);
      assert.equal(res.statusCode, 400, res.body.slice(0, 300));
      assert.deepEqual(res.json(), {
        error: {
          code: 'INVALID_JSON',
          message: `the request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
        },
      });
    });
  }

  it(`accepts exactly ${MAX_JSON_DEPTH} levels, and brackets inside strings do not count`, async () => {
    const deepest = nested('[', '1', ']', MAX_JSON_DEPTH - 2);
    const res = await post(
      `{${spec},"metadata":{"a":${deepest},"b":"${'['.repeat(500)}\\"${'{'.repeat(500)}"}}`,
    );
    assert.equal(res.statusCode, 201, res.body.slice(0, 300));
    assert.equal(res.json().metadata.b, `${'['.repeat(500)}"${'{'.repeat(500)}`);
  });

  it(`refuses metadata over ${METADATA_MAX_BYTES} bytes as JSON with 400 INVALID_SPEC naming the field`, async () => {
    const res = await post(
      JSON.stringify({ ...tinySpec(), metadata: { notes: 'x'.repeat(METADATA_MAX_BYTES) } }),
    );
    assert.equal(res.statusCode, 400, res.body.slice(0, 300));
    const { error } = res.json();
    assert.equal(error.code, 'INVALID_SPEC');
    assert.equal(error.field, 'metadata');
    assert.match(
      error.message,
      new RegExp(`^metadata: must be at most ${METADATA_MAX_BYTES} bytes as JSON`),
    );
  });

  it('accepts metadata up to the cap', async () => {
    const metadata = { notes: 'x'.repeat(METADATA_MAX_BYTES - '{"notes":""}'.length) };
    assert.equal(JSON.stringify(metadata).length, METADATA_MAX_BYTES);
    const res = await post(JSON.stringify({ ...tinySpec(), metadata }));
    assert.equal(res.statusCode, 201, res.body.slice(0, 300));
  });

  it('refuses a name over 200 characters with 400 INVALID_SPEC naming the field', async () => {
    const res = await post(JSON.stringify({ ...tinySpec(), name: 'n'.repeat(201) }));
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'INVALID_SPEC');
    assert.equal(res.json().error.field, 'name');
  });

  it('stored nothing for the refused bodies', async () => {
    assert.equal(await svc.db.job.count(), 2);
  });
});
