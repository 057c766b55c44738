/**
 * CORS in a real browser (Debian's chromium driven by playwright-core): a page on an allowed
 * origin loads a trained task model with tf.loadLayersModel and an Authorization header, exactly
 * as the README shows, and predicts what Node predicts with the same model; a page on another
 * origin is refused by the browser. Preflights answered without a key.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import {
  createTestService,
  eventually,
  ROOT,
  tinySpec,
  type TestService,
} from '../helpers/service.js';
import { expectArraysClose } from '../helpers/tensors.js';

/** Serves a blank page that loads TF.js, on loopback. */
async function pageServer(): Promise<http.Server> {
  const tfjs = await readFile(
    path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.min.js'),
  );
  const server = http.createServer((req, res) => {
    if (req.url === '/tf.min.js')
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(tfjs);
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>another origin</title><script src="/tf.min.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('CORS from a browser page', () => {
  let pages: http.Server;
  let svc: TestService;
  let browser: Browser;
  let api: string;
  let allowed: string;
  let auth: string;

  before(async () => {
    pages = await pageServer();
    const port = (pages.address() as AddressInfo).port;
    // The same server as http://localhost:<port> is another origin, not in the list.
    allowed = `http://127.0.0.1:${port}`;
    svc = await createTestService('cors', { CORS_ORIGINS: `https://app.example.com, ${allowed}` });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    api = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
    auth = await svc.auth('browser');
    await svc.startWorker();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
    pages?.close();
  });

  it('answers preflights for allowed origins only, without a key', async () => {
    const preflight = (origin: string) =>
      fetch(`${api}/v1/jobs/00000000-0000-4000-8000-000000000000/tasks/0/model/model.json`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const ok = await preflight(allowed);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), allowed);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const other = await preflight('http://evil.example');
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('lets a page on an allowed origin load a task model with its key, and the browser refuses other origins', async () => {
    const submitted = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: auth },
      payload: tinySpec({ tasks: 1, iterationsPerTask: 20 }),
    });
    assert.equal(submitted.statusCode, 201, submitted.body);
    const id = submitted.json().id;
    await eventually(
      async () => {
        const status = (
          await svc.app.inject({
            method: 'GET',
            url: `/v1/jobs/${id}`,
            headers: { authorization: auth },
          })
        ).json().status;
        assert.ok(!['failed', 'cancelled'].includes(status), status);
        return status === 'succeeded' ? true : undefined;
      },
      200,
      180_000,
    );

    const url = `${api}/v1/jobs/${id}/tasks/0/model/model.json`;
    const input = Array.from({ length: 784 }, (_, i) => (i % 29) / 28);
    const model = await tf.loadLayersModel(url, {
      requestInit: { headers: { Authorization: auth } },
    });
    const expected = Array.from((model.predict(tf.tensor2d([input])) as tf.Tensor).dataSync());
    model.dispose();

    const inBrowser = async (origin: string) => {
      const page = await browser.newPage();
      try {
        await page.goto(origin, { timeout: 30_000 });
        return await page.evaluate(
          async ({ url, auth, input }) => {
            // The page's TF.js (a global there), not this module's.
            const t = (globalThis as unknown as { tf: typeof tf }).tf;
            const m = await t.loadLayersModel(url, {
              requestInit: { headers: { Authorization: auth } },
            });
            return Array.from((m.predict(t.tensor2d([input])) as tf.Tensor).dataSync());
          },
          { url, auth, input },
        );
      } finally {
        await page.close();
      }
    };
    expectArraysClose(await inBrowser(allowed), expected, 1e-4, 'browser prediction');
    await assert.rejects(
      inBrowser(allowed.replace('127.0.0.1', 'localhost')),
      /fetch|CORS|Failed/i,
    );
  });
});
