/**
 * The typed TypeScript client (clients/typescript: openapi-typescript types + openapi-fetch)
 * against the real API: src/http/server.ts listening on a free port and a real training worker,
 * on a private schema and queue. One tiny job's whole life goes through the client, and every
 * answer is checked against openapi/openapi.json: its status and content type are documented for
 * that operation, and a JSON body fits the documented schema.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Middleware } from 'openapi-fetch';
import { createRetainClient, type Job, type RetainClient } from '../../clients/typescript/index.js';
import { CLIENT_TYPES_FILE, generateClientTypes } from '../../scripts/client.js';
import { OPENAPI_FILE } from '../../scripts/openapi.js';
import { createTestService, eventually, type TestService } from '../helpers/service.js';

// A CJS package seen through NodeNext: the function is on `.default`.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

interface Operation {
  responses: Record<
    string,
    { content?: Record<string, { examples?: Record<string, unknown> } | undefined> }
  >;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
}

/** A JSON pointer token (RFC 6901). */
const token = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Middleware that checks every answer against the document: the operation documents the status
 * and the content type, and a JSON body validates against the documented schema.
 */
function conformsToDocument(doc: Doc, seen: string[]): Middleware {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
  return {
    async onResponse({ request, response, schemaPath }) {
      const method = request.method.toLowerCase();
      const where = `${request.method} ${schemaPath} -> ${response.status}`;
      seen.push(where);
      const documented = doc.paths[schemaPath]?.[method]?.responses[String(response.status)];
      assert.ok(documented, `${where}: status not documented`);
      const type = (response.headers.get('content-type') ?? '').split(';')[0].trim();
      if (response.status === 204) return undefined;
      assert.ok(
        documented.content && type in documented.content,
        `${where}: content type ${type} not documented (${Object.keys(documented.content ?? {}).join(', ')})`,
      );
      if (type !== 'application/json') return undefined;
      const pointer = ['paths', schemaPath, method, 'responses', String(response.status)]
        .concat(['content', type, 'schema'])
        .map(token)
        .join('/');
      const validate = ajv.getSchema(`openapi.json#/${pointer}`);
      assert.ok(validate, `${where}: no schema at ${pointer}`);
      const body: unknown = await response.clone().json();
      assert.ok(validate(body), `${where}: ${ajv.errorsText(validate.errors)}`);
      if (response.status >= 400) {
        // An error's code is one the operation lists for this status.
        const code = (body as { error: { code: string } }).error.code;
        const listed = Object.keys(documented.content[type]?.examples ?? {});
        assert.ok(listed.includes(code), `${where}: ${code} is not among ${listed.join(', ')}`);
      }
      return undefined;
    },
  };
}

describe('the generated TypeScript client', () => {
  let svc: TestService;
  let doc: Doc;
  const seen: string[] = [];

  before(async () => {
    svc = await createTestService('ts_client');
    doc = JSON.parse(await readFile(OPENAPI_FILE, 'utf8')) as Doc;
  });
  after(async () => svc?.close());

  it('is what openapi-typescript generates from openapi/openapi.json (`npm run client:generate`)', async () => {
    assert.equal(await readFile(CLIENT_TYPES_FILE, 'utf8'), await generateClientTypes());
  });

  it('drives a tiny job through its whole life against the real API and a worker', async () => {
    const api = await svc.startApi();
    await svc.startWorker();
    const client = (apiKey?: string): RetainClient => {
      const c = createRetainClient({ baseUrl: api.base, apiKey });
      c.use(conformsToDocument(doc, seen));
      return c;
    };

    const health = await client().GET('/healthz');
    assert.equal(health.data?.status, 'ok');

    // A key made by the operator's command, then the job's own key made through the API.
    const bootstrap = client((await svc.auth('client')).replace(/^Bearer /, ''));
    const created = await bootstrap.POST('/v1/keys', { body: { name: 'generated client' } });
    assert.equal(created.response.status, 201);
    assert.ok(created.data?.key);
    const retain = client(created.data.key);

    const submitted = await retain.POST('/v1/jobs', {
      headers: { 'idempotency-key': `ts-client-${randomUUID()}` },
      body: {
        name: 'through the generated client',
        method: 'hypermask',
        benchmark: {
          dataset: 'mnist',
          tasks: 2,
          classesPerTask: 2,
          trainLimit: 100,
          testLimit: 60,
          validationSize: 20,
          augment: false,
        },
        network: { hidden: [16] },
        hypernetwork: { hidden: [8], embeddingDim: 8 },
        training: { iterationsPerTask: 40, batchSize: 32, validationEvery: 10, seed: 3 },
        evaluation: { taskInference: false },
      },
    });
    assert.equal(submitted.response.status, 201, JSON.stringify(submitted.error));
    const refused = await retain.POST('/v1/jobs', { body: { regularization: { sparsity: 120 } } });
    assert.equal(refused.response.status, 400);
    assert.equal(refused.error?.error.code, 'INVALID_SPEC');
    assert.equal(refused.error.error.field, 'regularization.sparsity');
    const id = submitted.data!.id;
    const path = { id };

    const done = await eventually<Job>(
      async () => {
        const { data } = await retain.GET('/v1/jobs/{id}', { params: { path } });
        return data && ['succeeded', 'failed', 'cancelled'].includes(data.status)
          ? data
          : undefined;
      },
      200,
      300_000,
    );
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.links.tasks.length, 2);

    const listed = await retain.GET('/v1/jobs', { params: { query: { status: 'succeeded' } } });
    assert.deepEqual(
      listed.data?.items.map((j) => j.id),
      [id],
    );

    // No query parameters: curve and limit take their defaults.
    const metrics = await retain.GET('/v1/jobs/{id}/metrics', { params: { path } });
    assert.equal(metrics.data?.status, 'succeeded');
    assert.equal(metrics.data.accuracyMatrix.length, 2);
    assert.equal(metrics.data.curve.kind, 'loss');
    assert.ok(metrics.data.curve.points.length > 0);
    const page = await retain.GET('/v1/jobs/{id}/metrics', {
      params: { path, query: { curve: 'validation', task: 1, limit: 2 } },
    });
    assert.equal(page.data?.curve.kind, 'validation');
    assert.equal(page.data.curve.points.length, 2);
    assert.ok(page.data.curve.points.every((p) => p.task === 1));
    assert.ok(page.data.curve.nextCursor);

    const taskPath = { id, task: 1 };
    const mask = await retain.GET('/v1/jobs/{id}/tasks/{task}/mask', {
      params: { path: taskPath },
      parseAs: 'arrayBuffer',
    });
    assert.equal(mask.response.status, 200);
    const maskBytes = Buffer.from(mask.data!);
    const headerLength = Number(maskBytes.readBigUInt64LE(0));
    const header = JSON.parse(maskBytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      { dtype: string; shape: number[] }
    >;
    assert.equal(header['dense_1/kernel'].dtype, 'F32');
    assert.equal(header['dense_1/kernel'].shape[1], 16);

    const model = await retain.GET('/v1/jobs/{id}/tasks/{task}/model/model.json', {
      params: { path: taskPath },
    });
    assert.deepEqual(
      model.data?.weightsManifest.map((g) => g.paths),
      [['weights.bin']],
    );
    const weights = await retain.GET('/v1/jobs/{id}/tasks/{task}/model/weights.bin', {
      params: { path: taskPath },
      parseAs: 'arrayBuffer',
    });
    const floats = model.data.weightsManifest[0].weights
      .map((w) => (w.shape as number[]).reduce((a, b) => a * b, 1))
      .reduce((a, b) => a + b, 0);
    assert.equal(weights.data?.byteLength, floats * 4);

    // Errors come typed, with a code the operation documents for that status.
    const finished = await retain.POST('/v1/jobs/{id}/cancel', { params: { path } });
    assert.equal(finished.error?.error.code, 'JOB_NOT_CANCELLABLE');
    const noTask = await retain.GET('/v1/jobs/{id}/tasks/{task}/mask', {
      params: { path: { id, task: 2 } },
      parseAs: 'arrayBuffer',
    });
    assert.equal(noTask.response.status, 404);
    const badCursor = await retain.GET('/v1/jobs/{id}/metrics', {
      params: { path, query: { cursor: 'not-a-cursor' } },
    });
    assert.equal(badCursor.error?.error.code, 'INVALID_CURSOR');
    const missing = await retain.GET('/v1/jobs/{id}', { params: { path: { id: randomUUID() } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error?.error.code, 'JOB_NOT_FOUND');
    const noKey = await client().GET('/v1/jobs', {});
    assert.equal(noKey.error?.error.code, 'UNAUTHORIZED');

    const revoked = await bootstrap.DELETE('/v1/keys/{id}', {
      params: { path: { id: created.data.id } },
    });
    assert.ok(revoked.data?.revokedAt);
    const deleted = await bootstrap.DELETE('/v1/jobs/{id}', { params: { path } });
    assert.equal(deleted.response.status, 204);

    // Every answer above was checked against the document.
    assert.ok(seen.length >= 18, seen.join('\n'));
  });
});
