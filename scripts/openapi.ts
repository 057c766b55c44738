/**
 * `npm run openapi:generate`: writes openapi/openapi.json from the route schemas. The app is
 * built with inert dependencies (no database or Redis is touched). `--check` exits 1 when the
 * committed file differs (CI and test/api/openapi.test.ts use the same function).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/http/app.js';
import type { ApiKeyService } from '../src/services/auth/api-key.service.js';
import type { PredictionService } from '../src/services/predictions/prediction.service.js';
import type { DatasetService } from '../src/services/datasets/dataset.service.js';
import type { JobService } from '../src/services/jobs/job.service.js';
import type { JobStreamService } from '../src/services/events/job-stream.service.js';
import type { WebhookService } from '../src/services/webhooks/webhook.service.js';

export const OPENAPI_FILE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'openapi',
  'openapi.json',
);

/**
 * The app's services as stand-ins that touch nothing: any call rejects. For building the app
 * where only its routes matter (this document; tests of the HTTP layer alone).
 */
export function inertServices() {
  const unused = new Proxy(
    {},
    { get: () => () => Promise.reject(new Error('not available: an inert service')) },
  );
  return {
    jobs: unused as JobService,
    streams: unused as JobStreamService,
    webhooks: unused as WebhookService,
    datasets: unused as DatasetService,
    predictions: unused as PredictionService,
    apiKeys: unused as ApiKeyService,
  };
}

export async function generateOpenApi(): Promise<string> {
  const app = await buildApp({ ...inertServices(), readiness: {}, docsUi: false });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const doc = await generateOpenApi();
  if (process.argv.includes('--check')) {
    const current = await readFile(OPENAPI_FILE, 'utf8').catch(() => '');
    if (current !== doc) {
      console.error(
        'openapi/openapi.json is out of date: run `npm run openapi:generate` and commit it',
      );
      process.exit(1);
    }
    console.log('openapi/openapi.json is up to date');
  } else {
    await writeFile(OPENAPI_FILE, doc);
    console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
  }
}
