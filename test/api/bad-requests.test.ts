/**
 * A table of bad requests: each must answer 4xx with the stable error shape and a message that
 * names the problem, and none may answer 5xx. Nothing is queued for any of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

interface Case {
  name: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  noAuth?: boolean;
  status: number;
  code: string;
  /** The message must contain this (the field or the problem). */
  mentions: string | RegExp;
}

const JOB = '00000000-0000-4000-8000-000000000000';
const spec = tinySpec();

const cases: Case[] = [
  {
    name: 'no Authorization header',
    url: '/v1/jobs',
    noAuth: true,
    status: 401,
    code: 'UNAUTHORIZED',
    mentions: 'Bearer',
  },
  {
    name: 'unknown API key',
    url: '/v1/jobs',
    headers: { authorization: 'Bearer rk_nope' },
    status: 401,
    code: 'UNAUTHORIZED',
    mentions: 'not valid',
  },
  {
    name: 'malformed Authorization',
    url: '/v1/jobs',
    headers: { authorization: 'Basic abc' },
    status: 401,
    code: 'UNAUTHORIZED',
    mentions: 'Bearer',
  },
  {
    name: 'unknown dataset',
    body: { benchmark: { dataset: 'cifar' } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'benchmark.dataset',
  },
  {
    name: 'unknown method',
    body: { method: 'ewc' },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /method: must be one of "hypermask", "hnet", "finetune"/,
  },
  {
    name: 'unknown preset',
    body: { preset: 'split-cifar' },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'preset',
  },
  {
    name: 'sparsity above 100',
    body: { regularization: { sparsity: 150 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /regularization.sparsity.*between 0 and 100/,
  },
  {
    name: 'negative sparsity',
    body: { regularization: { sparsity: -1 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'regularization.sparsity',
  },
  {
    name: 'more tasks than classes allow',
    body: { benchmark: { tasks: 6, classesPerTask: 2 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /benchmark.tasks.*12 classes/,
  },
  {
    name: 'too many tasks',
    body: { benchmark: { kind: 'permuted', tasks: 101 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'benchmark.tasks',
  },
  {
    name: 'zero tasks',
    body: { benchmark: { tasks: 0 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'benchmark.tasks',
  },
  {
    name: 'unknown top-level field',
    body: { ...spec, epochs: 3 },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /epochs: unknown field/,
  },
  {
    name: 'unknown nested field',
    body: { training: { iterationsPerTask: 10, lr: 0.1 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /training.lr: unknown field/,
  },
  {
    name: 'string instead of integer',
    body: { training: { iterationsPerTask: '30' } },
    status: 400,
    code: 'INVALID_SPEC',
    // iterationsPerTask may be null (a length in epochsPerTask instead).
    mentions: /training.iterationsPerTask: must be one of integer, null \(got "30"\)/,
  },
  {
    name: 'fractional iterations',
    body: { training: { iterationsPerTask: 1.5 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'training.iterationsPerTask',
  },
  {
    name: 'absurd iteration count',
    body: { training: { iterationsPerTask: 1e9 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'training.iterationsPerTask',
  },
  {
    name: 'absurd layer width',
    body: { network: { hidden: [100000] } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'network.hidden',
  },
  {
    name: 'too many layers',
    body: { network: { hidden: [8, 8, 8, 8, 8, 8, 8, 8, 8] } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'network.hidden',
  },
  {
    name: 'too many parameters',
    body: { network: { hidden: [4096, 4096, 4096] }, hypernetwork: { hidden: [1024] } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /parameters/,
  },
  {
    name: 'hidden as a number',
    body: { network: { hidden: 16 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /network.hidden: must be of type array/,
  },
  {
    name: 'learning rate above 1',
    body: { training: { learningRate: 5 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'training.learningRate',
  },
  {
    name: 'batch size 0',
    body: { training: { batchSize: 0 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'training.batchSize',
  },
  {
    name: 'negative seed',
    body: { training: { seed: -4 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'training.seed',
  },
  {
    name: 'unknown activation',
    body: { network: { activation: 'tanh' } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'network.activation',
  },
  {
    name: 'trainLimit not above validationSize',
    body: { benchmark: { trainLimit: 50, validationSize: 100 } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'benchmark.trainLimit',
  },
  {
    name: 'augment with padTo32',
    body: { benchmark: { padTo32: true, augment: true } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'benchmark.augment',
  },
  {
    name: 'boolean as string',
    body: { benchmark: { augment: 'yes' } },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'benchmark.augment',
  },
  {
    name: 'body is an array',
    body: [1, 2],
    status: 400,
    code: 'INVALID_SPEC',
    mentions: /spec: must be of type object/,
  },
  {
    name: 'empty name',
    body: { ...spec, name: '' },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'name',
  },
  {
    name: 'metadata is not an object',
    body: { ...spec, metadata: 'x' },
    status: 400,
    code: 'INVALID_SPEC',
    mentions: 'metadata',
  },
  {
    name: 'malformed JSON',
    rawBody: '{"method": ',
    headers: { 'content-type': 'application/json' },
    status: 400,
    code: 'INVALID_JSON',
    mentions: 'JSON',
  },
  {
    name: 'not JSON',
    rawBody: 'method=hnet',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    mentions: 'application/json',
  },
  {
    name: 'body too large',
    rawBody: JSON.stringify({ name: 'x'.repeat(1_100_000) }),
    headers: { 'content-type': 'application/json' },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    mentions: 'larger than',
  },
  {
    name: 'idempotency key with spaces',
    body: spec,
    headers: { 'idempotency-key': 'a b' },
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: 'idempotency-key',
  },
  {
    name: 'broken percent-encoding in the URL',
    method: 'GET',
    url: '/v1/jobs/%E0%A4%A',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: 'not a valid url',
  },
  {
    name: 'job id is not a UUID',
    method: 'GET',
    url: '/v1/jobs/123',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: /path parameter id: must be a UUID/,
  },
  {
    name: 'unknown job',
    method: 'GET',
    url: `/v1/jobs/${JOB}`,
    status: 404,
    code: 'JOB_NOT_FOUND',
    mentions: JOB,
  },
  {
    name: 'bad status filter',
    method: 'GET',
    url: '/v1/jobs?status=done',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: /status: must be one of/,
  },
  {
    name: 'limit above 100',
    method: 'GET',
    url: '/v1/jobs?limit=1000',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: /limit: must be an integer between 1 and 100/,
  },
  {
    name: 'limit not a number',
    method: 'GET',
    url: '/v1/jobs?limit=ten',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: 'limit',
  },
  {
    name: 'forged cursor',
    method: 'GET',
    url: '/v1/jobs?cursor=bm9wZQ',
    status: 400,
    code: 'INVALID_CURSOR',
    mentions: 'cursor',
  },
  {
    name: 'unknown query parameter',
    method: 'GET',
    url: '/v1/jobs?page=2',
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: /page: unknown field/,
  },
  {
    name: 'bad curve name',
    method: 'GET',
    url: `/v1/jobs/${JOB}/metrics?curve=accuracy`,
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: 'curve',
  },
  {
    name: 'cancel an unknown job',
    method: 'POST',
    url: `/v1/jobs/${JOB}/cancel`,
    status: 404,
    code: 'JOB_NOT_FOUND',
    mentions: JOB,
  },
  {
    name: 'negative task index',
    method: 'GET',
    url: `/v1/jobs/${JOB}/tasks/-1/mask`,
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: 'task',
  },
  {
    name: 'task index not a number',
    method: 'GET',
    url: `/v1/jobs/${JOB}/tasks/first/model/model.json`,
    status: 400,
    code: 'INVALID_REQUEST',
    mentions: 'task',
  },
  {
    name: 'unknown route',
    method: 'GET',
    url: '/v1/experiments',
    status: 404,
    code: 'NOT_FOUND',
    mentions: '/v1/experiments',
  },
  {
    name: 'wrong method',
    method: 'PUT',
    url: `/v1/jobs/${JOB}`,
    status: 404,
    code: 'NOT_FOUND',
    mentions: 'PUT',
  },
];

describe('bad requests', () => {
  let svc: TestService;
  let auth: string;
  before(async () => {
    svc = await createTestService('badreq');
    auth = await svc.auth('acme');
  });
  after(async () => svc?.close());

  it(`has at least 30 cases (${cases.length})`, () => assert.ok(cases.length >= 30));

  for (const c of cases) {
    it(`${c.name} -> ${c.status} ${c.code}`, async () => {
      const headers: Record<string, string> = {
        ...(c.noAuth ? {} : { authorization: auth }),
        ...c.headers,
      };
      const res = await svc.app.inject({
        method: c.method ?? 'POST',
        url: c.url ?? '/v1/jobs',
        headers,
        ...(c.rawBody !== undefined
          ? { payload: c.rawBody }
          : c.body !== undefined
            ? { payload: c.body as object }
            : {}),
      });
      assert.ok(res.statusCode < 500, `5xx: ${res.body}`);
      assert.equal(res.statusCode, c.status, res.body);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(body.error.code, c.code, res.body);
      if (typeof c.mentions === 'string')
        assert.ok(
          body.error.message.includes(c.mentions),
          `"${body.error.message}" should mention ${c.mentions}`,
        );
      else assert.match(body.error.message, c.mentions);
    });
  }

  it('queued nothing for any of them', async () => {
    assert.equal(await svc.ctx.queue.queue.count(), 0);
    assert.equal(await svc.db.job.count(), 0);
  });
});
