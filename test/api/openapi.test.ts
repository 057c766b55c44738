/** The committed OpenAPI document must be exactly what the route schemas generate. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { generateOpenApi, inertServices, OPENAPI_FILE } from '../../scripts/openapi.js';
import { METHODS, PRESETS, resolveSpec } from '../../src/core/index.js';
import { buildApp } from '../../src/http/app.js';
import { ERROR_CODES, ERROR_TABLE, type ErrorCode } from '../../src/http/error-codes.js';
import { CreateJobBody, presetExampleDataset } from '../../src/http/routes/jobs/schemas.js';
import { validatorCompiler } from '../../src/http/validation.js';

describe('openapi/openapi.json', () => {
  it('matches the routes (run `npm run openapi:generate` after changing a route schema)', async () => {
    const generated = await generateOpenApi();
    const committed = await readFile(OPENAPI_FILE, 'utf8');
    assert.equal(committed, generated);
  });

  it('documents every route with tags and an error response', () => {
    return generateOpenApi().then((text) => {
      const doc = JSON.parse(text);
      const paths = Object.keys(doc.paths);
      for (const p of [
        '/v1/jobs',
        '/v1/jobs/{id}',
        '/v1/jobs/{id}/cancel',
        '/v1/jobs/{id}/metrics',
        '/v1/jobs/{id}/tasks/{task}/mask',
        '/v1/jobs/{id}/tasks/{task}/model/model.json',
        '/healthz',
        '/readyz',
      ]) {
        assert.ok(paths.includes(p), `missing ${p}`);
      }
      for (const [p, ops] of Object.entries(
        doc.paths as Record<
          string,
          Record<string, { tags?: string[]; responses: Record<string, unknown> }>
        >,
      )) {
        for (const [method, op] of Object.entries(ops)) {
          assert.ok(op.tags?.length, `${method} ${p} has no tags`);
          if (p.startsWith('/v1/'))
            assert.ok(op.responses['401'], `${method} ${p} documents no 401`);
        }
      }
    });
  });

  it('gives every operation a unique camelCase operationId and a description', async () => {
    const ids = new Set<string>();
    for (const { method, path, op } of operations(JSON.parse(await generateOpenApi()) as Doc)) {
      assert.match(op.operationId ?? '', /^[a-z][a-zA-Z]+$/, `${method} ${path}: operationId`);
      assert.ok(!ids.has(op.operationId ?? ''), `${method} ${path}: operationId used twice`);
      ids.add(op.operationId ?? '');
      assert.ok(op.description, `${method} ${path} has no description`);
    }
    assert.equal(ids.size, 28);
  });

  it('marks no parameter that has a default as required', async () => {
    const doc = JSON.parse(await generateOpenApi()) as Doc;
    let defaults = 0;
    for (const { method, path, op } of operations(doc)) {
      for (const p of op.parameters ?? []) {
        if (p.schema?.default === undefined) continue;
        defaults++;
        assert.equal(p.required, false, `${method} ${path}: ${p.name} has a default`);
      }
    }
    // limit on jobs, data sets, webhooks and deliveries; curve and limit on metrics.
    assert.equal(defaults, 6);
    const metrics = doc.paths['/v1/jobs/{id}/metrics'].get.parameters ?? [];
    assert.deepEqual(
      metrics.filter((p) => p.required).map((p) => p.name),
      ['id'],
    );
  });

  it('declares the health routes public and every other operation behind a key', async () => {
    for (const { method, path, op } of operations(JSON.parse(await generateOpenApi()) as Doc)) {
      const expected = path === '/healthz' || path === '/readyz' ? [] : [{ bearerAuth: [] }];
      assert.deepEqual(op.security, expected, `${method} ${path}`);
    }
  });

  it('sets servers, licence and contact', async () => {
    const doc = JSON.parse(await generateOpenApi()) as Doc;
    assert.deepEqual(
      doc.servers.map((s) => s.url),
      ['/'],
    );
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as {
      license: string;
      private: boolean;
    };
    assert.equal(pkg.private, true);
    assert.equal(pkg.license, 'UNLICENSED');
    assert.match(doc.info.license.name, /^UNLICENSED\b/);
    assert.ok(doc.info.contact.name);
  });

  it('documents the codes of every error response, from the error table, with an example of each', async () => {
    const doc = JSON.parse(await generateOpenApi()) as Doc;
    const documented = new Set<string>();
    for (const { method, path, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses)) {
        const media = response.content?.['application/json'];
        if (Number(status) < 400 || media?.schema?.$ref !== '#/components/schemas/Error') continue;
        const codes = Object.keys(media.examples ?? {});
        assert.ok(codes.length, `${method} ${path} ${status} lists no codes`);
        for (const code of codes) {
          const entry = ERROR_TABLE[code as ErrorCode];
          assert.ok(entry, `${method} ${path} ${status}: ${code} is not in the error table`);
          assert.equal(entry.status, Number(status), `${code} is answered with ${entry.status}`);
          assert.equal(media.examples?.[code].value.error.code, code);
          assert.ok(response.description.includes(`\`${code}\``), `${code} in the description`);
          documented.add(code);
        }
      }
      if (path.startsWith('/v1/'))
        for (const code of ['UNAUTHORIZED', 'RATE_LIMITED', 'DATABASE_UNAVAILABLE', 'INTERNAL'])
          assert.ok(
            Object.values(op.responses).some((r) =>
              Boolean(r.content?.['application/json']?.examples?.[code]),
            ),
            `${method} ${path} does not document ${code}`,
          );
    }
    // Codes no route names are those answered before routing.
    assert.deepEqual(
      ERROR_CODES.filter((c) => !documented.has(c)),
      ['NOT_FOUND', 'REQUEST_TIMEOUT', 'URI_TOO_LONG'],
    );
    const table = doc.info.description;
    for (const code of ERROR_CODES) assert.ok(table.includes(`| \`${code}\` |`), code);
  });

  it('gives the job spec one example per preset and method, each a spec the API accepts as it is', async () => {
    const doc = JSON.parse(await generateOpenApi()) as Doc;
    const media = doc.paths['/v1/jobs'].post.requestBody?.content['application/json'];
    const examples = media?.examples ?? {};
    assert.deepEqual(
      Object.keys(examples),
      PRESETS.flatMap((p) => METHODS.map((m) => `${p}-${m}`)),
    );
    const validate = validatorCompiler({
      schema: CreateJobBody,
      httpPart: 'body',
      method: 'POST',
      url: '/v1/jobs',
    }) as (data: unknown) => boolean;
    for (const [name, { value }] of Object.entries(examples)) {
      assert.ok(validate(structuredClone(value)), `${name} fails body validation`);
      const dataset = presetExampleDataset(
        (value as unknown as { preset: (typeof PRESETS)[number] }).preset,
      );
      const context = dataset ? { datasets: new Map([[dataset.id, dataset.facts]]) } : {};
      assert.deepEqual(
        resolveSpec(value, context),
        value,
        `${name} is not what its preset resolves to`,
      );
    }
  });

  it('is served with a UI at /docs', async () => {
    const app = await buildApp({
      ...inertServices(),
      readiness: {},
    });
    const ui = await app.inject('/docs/');
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
    const json = await app.inject('/docs/json');
    assert.equal(json.json().info.title, 'Retain API');
    await app.close();
  });
});

interface Media {
  schema?: { $ref?: string };
  examples?: Record<string, { value: { error: { code: string } } }>;
}
interface Operation {
  operationId?: string;
  description?: string;
  security?: unknown;
  parameters?: { name: string; required: boolean; schema?: { default?: unknown } }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
}
interface Doc {
  info: { description: string; license: { name: string }; contact: { name: string } };
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
}

function operations(doc: Doc): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method, path, op })),
  );
}
