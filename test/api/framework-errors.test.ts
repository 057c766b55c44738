/**
 * Answers that come from the HTTP layer itself, before any route runs, use the API's error shape
 * and do not send the request back: a path segment over 100 characters (414), an unknown 10 KB
 * path (404), headers over Node's limit (431; no body for HEAD), a malformed request line (400).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestService, type TestService } from '../helpers/service.js';

/** Sends raw bytes and returns the whole answer (the server closes these connections). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(
      () => (socket.destroy(), reject(new Error(`no answer within 10 s: ${text}`))),
      10_000,
    );
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => (clearTimeout(timer), resolve(text)));
    socket.end(request);
  });
}

const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);

describe('answers of the HTTP layer', () => {
  let svc: TestService;
  let port: number;
  let auth: string;
  before(async () => {
    svc = await createTestService('framework');
    auth = await svc.auth('acme');
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    port = (svc.app.server.address() as net.AddressInfo).port;
  });
  after(async () => svc?.close());

  it('a path parameter of 10 KB: 414 URI_TOO_LONG without the path', async () => {
    const res = await svc.app.inject({
      url: `/v1/jobs/${'a'.repeat(10_000)}`,
      headers: { authorization: auth },
    });
    assert.equal(res.statusCode, 414);
    assert.equal(res.json().error.code, 'URI_TOO_LONG');
    assert.ok(res.body.length < 300, `the answer echoes the path (${res.body.length} bytes)`);
  });

  it('an unknown path of 10 KB: 404 NOT_FOUND without the path; a short one is named', async () => {
    const res = await svc.app.inject({ url: `/${'b'.repeat(10_000)}` });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'NOT_FOUND');
    assert.ok(res.body.length < 300, `the answer echoes the path (${res.body.length} bytes)`);
    assert.match(
      (await svc.app.inject({ url: '/v2/jobs' })).json().error.message,
      /GET \/v2\/jobs/,
    );
  });

  it('headers over the limit: 431 in our shape, and no body for HEAD', async () => {
    const big = `X-Big: ${'x'.repeat(20_000)}\r\n`;
    const get = await raw(port, `GET /v1/jobs HTTP/1.1\r\nHost: x\r\n${big}\r\n`);
    assert.match(get, /^HTTP\/1\.1 431 /);
    assert.equal(JSON.parse(bodyOf(get)).error.code, 'HEADERS_TOO_LARGE');
    const head = await raw(port, `HEAD /v1/jobs HTTP/1.1\r\nHost: x\r\n${big}\r\n`);
    assert.match(head, /^HTTP\/1\.1 431 /);
    assert.equal(bodyOf(head), '');
    assert.match(head, /Content-Length: 0/);
  });

  it('a malformed request line: 400 INVALID_REQUEST in our shape', async () => {
    const answer = await raw(port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const { error } = JSON.parse(bodyOf(answer));
    assert.equal(error.code, 'INVALID_REQUEST');
    assert.doesNotMatch(error.message, /THIS IS NOT/);
  });
});
