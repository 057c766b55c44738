/**
 * Error bodies never carry what only the operator should see: hosts and ports, driver and
 * library messages, stacks. The detail goes to the log instead. Each outage here is real: a
 * database or Redis on a closed port, or a relay to the real Redis that the test cuts.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/http/app.js';
import type { ApiKeyService } from '../../src/services/auth/api-key.service.js';
import type { JobService } from '../../src/services/jobs/job.service.js';

/** Text that only a dependency would write: drivers, ioredis, Prisma, sockets, stacks. */
const INTERNALS = /127\.0\.0\.1|:1\b|localhost|ECONN|Stream isn't writeable|enableOfflineQueue|Connection is closed|Can't reach|database server|prisma|ioredis|redis:\/\/|postgres|\bat \S+:\d+|Maximum call stack|circular/i;

/** Collects a Fastify logger's lines, so that a test can check the detail went there. */
function logSink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: { level: 'warn', stream }, text: () => text };
}

function assertClean(body: string, what: string) {
  assert.doesNotMatch(body, INTERNALS, `${what} leaks internals: ${body}`);
}

describe('an error that cannot be described', () => {
  it('still answers {"error": {code, message}} and logs it', async () => {
    const log = logSink();
    const app = await buildApp({ jobs: {} as JobService, apiKeys: {} as ApiKeyService, readiness: {}, docsUi: false, logger: log.logger });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    // A validation error whose offending value cannot be printed (JSON.stringify throws on it).
    app.get('/broken', async () => {
      throw Object.assign(new Error('bad'), { validation: [{ keyword: 'type', instancePath: '/a', params: { type: 'string' }, data: circular }], validationContext: 'body' });
    });
    const res = await app.inject({ url: '/broken' });
    assert.equal(res.statusCode, 500, res.body);
    assert.deepEqual(Object.keys(res.json()), ['error']);
    assert.equal(res.json().error.code, 'INTERNAL');
    assertClean(res.body, 'GET /broken');
    assert.match(log.text(), /circular/i, 'the log keeps the cause');
    await app.close();
  });
});
