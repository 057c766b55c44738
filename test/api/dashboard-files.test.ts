/**
 * The dashboard's files at /ui: served without a key, with the Content-Security-Policy and
 * revalidation headers, exactly the committed ui/dist; nothing else under /ui. The app is built
 * with inert services: no route here reaches them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { UI_CONTENT_SECURITY_POLICY, UI_DIST } from '../../src/http/routes/ui/index.js';

describe('dashboard files (/ui)', () => {
  let app: FastifyInstance;
  before(async () => {
    const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('not used by /ui')) });
    const services = {
      jobs: unused,
      datasets: unused,
      predictions: unused,
      apiKeys: unused,
    } as unknown as Omit<AppDeps, 'readiness'>;
    app = await buildApp({ ...services, readiness: {}, docsUi: false });
  });
  after(() => app.close());

  it('redirects /ui to /ui/, where relative asset URLs resolve', async () => {
    const res = await app.inject('/ui');
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/ui/');
  });

  for (const [url, file, type] of [
    ['/ui/', 'index.html', 'text/html; charset=utf-8'],
    ['/ui/app.js', 'app.js', 'text/javascript; charset=utf-8'],
    ['/ui/app.css', 'app.css', 'text/css; charset=utf-8'],
  ]) {
    it(`serves ${url} without a key, under the CSP, revalidated by ETag`, async () => {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], type);
      assert.ok(
        res.rawPayload.equals(await readFile(path.join(UI_DIST, file))),
        `${file} as committed`,
      );
      assert.equal(res.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY);
      assert.match(UI_CONTENT_SECURITY_POLICY, /script-src 'self'/);
      assert.doesNotMatch(UI_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['cache-control'], 'no-cache');
      const again = await app.inject({
        url,
        headers: { 'if-none-match': String(res.headers.etag) },
      });
      assert.equal(again.statusCode, 304);
      assert.equal(again.body, '');
    });
  }

  it('serves nothing else under /ui, however the name is spelt', async () => {
    for (const url of [
      '/ui/missing.js',
      '/ui/..%2Fpackage.json',
      '/ui/%2e%2e/package.json',
      '/ui/../src/http/app.ts',
      '/ui/dist/app.js',
    ]) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'NOT_FOUND', url);
    }
  });

  it('keeps the dashboard out of the OpenAPI document', async () => {
    await app.ready();
    const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths);
    assert.deepEqual(
      paths.filter((p) => p.startsWith('/ui')),
      [],
    );
  });
});
