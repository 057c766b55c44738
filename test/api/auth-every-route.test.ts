/**
 * No route under /v1 runs without an API key, whatever form its URL takes on the wire. Requests go
 * over a real socket because `app.inject` normalises URLs and cannot send, for example, the
 * absolute form (`GET http://host/v1/... HTTP/1.1`). The routes come from the app itself, so a
 * route added later is covered without touching this file.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

interface Route {
  method: string;
  url: string;
}

/** Every route of the app, from Fastify's own route tree (hidden routes included). */
function listRoutes(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const url = `${stack[depth - 1] ?? ''}${m[2]}`;
    stack.push(url);
    for (const method of (m[3] ?? '').split(', '))
      if (/^[A-Z]+$/.test(method)) routes.push({ method, url });
  }
  return routes;
}

interface RawResponse {
  status: number;
  body: string;
}

/** One HTTP/1.1 request written byte for byte, with a deadline. */
function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  payload = '',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () =>
      socket.destroy(new Error(`no answer to ${method} ${target} within 5 s`)),
    );
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!status)
        return reject(
          new Error(
            `not an HTTP response to ${method} ${target}: ${JSON.stringify(text.slice(0, 200))}`,
          ),
        );
      resolve({ status: Number(status[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    const head = {
      host: 'localhost',
      connection: 'close',
      'content-length': String(Buffer.byteLength(payload)),
      ...headers,
    };
    // write, not end: Node's server drops a half-closed connection before a slow answer is sent.
    socket.write(
      `${method} ${target} HTTP/1.1\r\n${Object.entries(head)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n${payload}`,
    );
  });
}

/** The same path spelt the ways a prefix check on the raw URL would miss. */
function variants(path: string): [string, string][] {
  const rest = path.slice('/v1'.length);
  const encodeFirst = (s: string) => `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`;
  return [
    ['absolute form', `http://localhost${path}`],
    ['absolute form, other host', `http://evil.example:8080${path}`],
    ['double slash', `/${path}`],
    ['encoded prefix', `/%76%31${rest}`],
    ['encoded segment', `/v1/${encodeFirst(rest.slice(1))}`],
    ['absolute form, encoded prefix', `http://localhost/%76%31${rest}`],
    ['upper case', `/V1${rest}`],
  ];
}

describe('authentication on every /v1 route', () => {
  let svc: TestService;
  let owner: string;
  let port: number;
  let jobId: string;
  let routes: Route[];

  before(async () => {
    svc = await createTestService('authroutes');
    owner = await svc.auth('owner');
    // A route put outside the authenticated scope by mistake: reading the tenant must still refuse.
    svc.app.get('/v1/outside-the-scope', async (request) => ({ tenant: request.tenant.id }));
    // A real job, so that a route reached without a key would find something to show.
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: owner },
      payload: tinySpec(),
    });
    jobId = res.json().id;
    await svc.app.listen({ host: '127.0.0.1', port: 0 });
    port = (svc.app.server.address() as net.AddressInfo).port;
    routes = listRoutes(svc.app).filter((r) => /^\/v1(\/|$)/i.test(r.url));
  });
  after(async () => svc?.close());

  const concrete = (url: string) =>
    url
      .replace(/:id\b/g, jobId)
      .replace(/:task\b/g, '0')
      .replace(/:\w+|\*/g, 'x');
  const send = (r: Route, target: string, headers: Record<string, string> = {}) =>
    r.method === 'POST'
      ? rawRequest(
          port,
          r.method,
          target,
          { 'content-type': 'application/json', ...headers },
          JSON.stringify(tinySpec()),
        )
      : rawRequest(port, r.method, target, headers);

  it('finds every documented route under /v1', () => {
    const documented = Object.entries(svc.app.swagger().paths ?? {}).flatMap(([p, ops]) =>
      Object.keys(ops ?? {}).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const found = new Set(routes.map((r) => `${r.method} ${r.url}`));
    const v1 = documented.filter((d) => d.split(' ')[1].startsWith('/v1/'));
    assert.ok(v1.length >= 8, `only ${v1.length} documented /v1 routes`);
    for (const d of v1)
      assert.ok(found.has(d), `${d} is documented but was not found in the route tree`);
  });

  it('the raw client reaches a route in absolute form when the key is sent', async () => {
    const res = await rawRequest(port, 'GET', `http://localhost/v1/jobs/${jobId}`, {
      authorization: owner,
    });
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).id, jobId);
  });

  it('every route answers 401 UNAUTHORIZED without a key', async () => {
    for (const r of routes) {
      const res = await send(r, concrete(r.url));
      assert.equal(res.status, 401, `${r.method} ${r.url}: ${res.body}`);
      if (r.method !== 'HEAD') assert.equal(JSON.parse(res.body).error.code, 'UNAUTHORIZED');
    }
  });

  it('every route answers 401 or 404 without a key in absolute, encoded, double-slash and upper-case forms', async () => {
    for (const r of routes) {
      for (const [form, target] of variants(concrete(r.url))) {
        const res = await send(r, target);
        const what = `${r.method} ${target} (${form}): ${res.status} ${res.body}`;
        assert.ok(res.status === 401 || res.status === 404, what);
        if (r.method !== 'HEAD')
          assert.equal(
            JSON.parse(res.body).error.code,
            res.status === 401 ? 'UNAUTHORIZED' : 'NOT_FOUND',
            what,
          );
      }
    }
  });

  it('a wrong key in absolute form is refused too', async () => {
    const res = await rawRequest(port, 'GET', `http://localhost/v1/jobs/${jobId}`, {
      authorization: 'Bearer rk_nope',
    });
    assert.equal(res.status, 401, res.body);
  });
});
