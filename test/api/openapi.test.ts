/** The committed OpenAPI document must be exactly what the route schemas generate. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { generateOpenApi, OPENAPI_FILE } from '../../scripts/openapi.js';
import { buildApp } from '../../src/http/app.js';
import type { ApiKeyService } from '../../src/services/auth/api-key.service.js';
import type { PredictionService } from '../../src/services/predictions/prediction.service.js';
import type { DatasetService } from '../../src/services/datasets/dataset.service.js';
import type { JobService } from '../../src/services/jobs/job.service.js';
import type { JobStreamService } from '../../src/services/events/job-stream.service.js';
import type { WebhookService } from '../../src/services/webhooks/webhook.service.js';

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

  it('is served with a UI at /docs', async () => {
    const app = await buildApp({
      jobs: {} as JobService,
      streams: {} as JobStreamService,
      webhooks: {} as WebhookService,
      datasets: {} as DatasetService,
      predictions: {} as PredictionService,
      apiKeys: {} as ApiKeyService,
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
