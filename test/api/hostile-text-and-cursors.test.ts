/**
 * Input Postgres would refuse must be answered 400 naming the field, never 500: NUL characters
 * and unpaired surrogates in names and metadata (Postgres 22021, 22P05, 22P02), cursors holding
 * a date Postgres cannot store (22008) or a position beyond its bigint (22003).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

describe('hostile text and forged cursors', () => {
  let svc: TestService;
  let auth: string;
  let jobId: string;

  before(async () => {
    svc = await createTestService('hostile');
    auth = await svc.auth('acme');
    jobId = (
      await svc.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: auth },
        payload: tinySpec({ iterationsPerTask: 100_000 }),
      })
    ).json().id;
  });
  after(async () => svc?.close());

  const spec = JSON.stringify(tinySpec()).slice(1, -1);
  const cases: {
    name: string;
    method: 'GET' | 'POST';
    url: () => string;
    rawBody?: string;
    contentType?: string;
    code: string;
    mentions: RegExp;
  }[] = [
    {
      name: 'a NUL in the job name',
      method: 'POST',
      url: () => '/v1/jobs',
      rawBody: `{${spec},"name":"a\\u0000b"}`,
      code: 'INVALID_SPEC',
      mentions: /^name: .*NUL/,
    },
    {
      name: 'a NUL in a metadata value',
      method: 'POST',
      url: () => '/v1/jobs',
      rawBody: `{${spec},"metadata":{"team":["ok","x\\u0000"]}}`,
      code: 'INVALID_SPEC',
      mentions: /metadata\.team\[1\]/,
    },
    {
      name: 'an unpaired surrogate in a metadata key',
      method: 'POST',
      url: () => '/v1/jobs',
      rawBody: `{${spec},"metadata":{"\\ud800":1}}`,
      code: 'INVALID_SPEC',
      mentions: /metadata \(a key\)/,
    },
    {
      name: 'an unpaired surrogate in the job name',
      method: 'POST',
      url: () => '/v1/jobs',
      rawBody: `{${spec},"name":"\\udc00x"}`,
      code: 'INVALID_SPEC',
      mentions: /^name: /,
    },
    {
      name: 'a NUL in a data set name',
      method: 'POST',
      url: () => '/v1/datasets?name=a%00b',
      rawBody: 'a,label\n1,x\n',
      contentType: 'application/octet-stream',
      code: 'INVALID_INPUT',
      mentions: /name/,
    },
    {
      name: 'a jobs cursor holding a date Postgres cannot store',
      method: 'GET',
      url: () =>
        `/v1/jobs?cursor=${Buffer.from(`+275760-09-13T00:00:00.000Z|${jobId}`).toString('base64url')}`,
      code: 'INVALID_CURSOR',
      mentions: /cursor/,
    },
    {
      name: 'a metrics cursor beyond the largest bigint',
      method: 'GET',
      url: () => `/v1/jobs/${jobId}/metrics?cursor=9223372036854775808`,
      code: 'INVALID_CURSOR',
      mentions: /cursor/,
    },
    {
      name: 'a metrics cursor of 20 digits',
      method: 'GET',
      url: () => `/v1/jobs/${jobId}/metrics?cursor=99999999999999999999`,
      code: 'INVALID_CURSOR',
      mentions: /cursor/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: 400 ${c.code}`, async () => {
      const res = await svc.app.inject({
        method: c.method,
        url: c.url(),
        headers: {
          authorization: auth,
          ...(c.rawBody ? { 'content-type': c.contentType ?? 'application/json' } : {}),
        },
        payload: c.rawBody,
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.code, c.code);
      assert.match(res.json().error.message, c.mentions);
    });
  }

  it('the largest bigint itself is a valid metrics cursor (an empty page)', async () => {
    const res = await svc.app.inject({
      url: `/v1/jobs/${jobId}/metrics?cursor=9223372036854775807`,
      headers: { authorization: auth },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().curve.points, []);
  });
});
