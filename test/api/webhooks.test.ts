/**
 * Webhooks end to end: registration through the API, events of a job trained by a real worker
 * process, deliveries sent by the real webhook worker process to receivers this test runs, which
 * verify every request with the documented procedure (examples/webhook-receiver.ts).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readBody, verifyWebhook, type WebhookMessage } from '../../examples/webhook-receiver.js';
import { createTestService, eventually, tinySpec, type TestService } from '../helpers/service.js';

interface Received {
  path: string;
  id: string;
  timestamp: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  message: WebhookMessage | null;
  verifyError: string | null;
  answered: number | null;
}

interface Delivery {
  id: string;
  jobId: string;
  eventType: string;
  eventId: number;
  status: string;
  attempts: number;
  statusCode: number | null;
  lastError: string | null;
}

describe('webhooks', () => {
  let svc: TestService;
  let alice: string;
  let bob: string;
  let receiver: http.Server;
  let base: string;
  const received: Received[] = [];
  const secrets = new Map<string, string>();

  const call = (auth: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    svc.app.inject({
      method,
      url,
      headers: { authorization: auth },
      ...(payload ? { payload } : {}),
    });
  const register = async (auth: string, path: string, events?: string[]) => {
    const res = await call(auth, 'POST', '/v1/webhooks', {
      url: `${base}${path}`,
      ...(events ? { events } : {}),
    });
    assert.equal(res.statusCode, 201, res.body);
    const hook = res.json();
    secrets.set(path, hook.secret);
    return hook as { id: string; secret: string; url: string; events: string[] };
  };
  const deliveries = async (auth: string, webhookId: string): Promise<Delivery[]> => {
    const res = await call(auth, 'GET', `/v1/webhooks/${webhookId}/deliveries?limit=100`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().items;
  };

  before(async () => {
    svc = await createTestService('webhooks', { WEBHOOK_ATTEMPTS: '3' });
    alice = await svc.auth('alice');
    bob = await svc.auth('bob');
    // The receivers: /flaky answers 500 to the first attempt of every delivery, /hang never answers.
    const receive = async (req: http.IncomingMessage, res: http.ServerResponse) => {
      const body = await readBody(req);
      const path = req.url ?? '';
      const r: Received = {
        path,
        id: String(req.headers['webhook-id']),
        timestamp: Number(req.headers['webhook-timestamp']),
        body,
        headers: req.headers,
        message: null,
        verifyError: null,
        answered: null,
      };
      try {
        r.message = verifyWebhook(secrets.get(path) ?? '', req.headers, body);
      } catch (err) {
        r.verifyError = (err as Error).message;
      }
      received.push(r);
      if (path === '/hang') return; // the webhook worker gives up after WEBHOOK_TIMEOUT_MS
      r.answered =
        path === '/flaky' && received.filter((x) => x.id === r.id).length === 1 ? 500 : 204;
      res.writeHead(r.answered).end();
    };
    receiver = http.createServer((req, res) => void receive(req, res));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    await Promise.all([svc.startWorker(), svc.startWebhookWorker()]);
  });
  after(async () => {
    receiver?.closeAllConnections();
    receiver?.close();
    await svc?.close();
  });

  it('registers, lists, reads and deletes webhooks; the secret is shown once', async () => {
    const hook = await register(alice, '/crud', ['job.succeeded', 'job.failed']);
    assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(hook.events, ['job.succeeded', 'job.failed']);
    const read = (await call(alice, 'GET', `/v1/webhooks/${hook.id}`)).json();
    assert.equal(read.url, `${base}/crud`);
    assert.equal(read.secret, undefined, 'never shown again');
    const list = (await call(alice, 'GET', '/v1/webhooks')).json();
    assert.ok(
      list.items.some(
        (w: { id: string; secret?: string }) => w.id === hook.id && w.secret === undefined,
      ),
    );
    const all = await register(alice, '/crud-all');
    assert.deepEqual(
      all.events,
      ['job.status', 'job.task_completed', 'job.succeeded', 'job.failed', 'job.cancelled'],
      'all types by default',
    );
    for (const id of [hook.id, all.id])
      assert.equal((await call(alice, 'DELETE', `/v1/webhooks/${id}`)).statusCode, 204);
    const gone = await call(alice, 'GET', `/v1/webhooks/${hook.id}`);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error.code, 'WEBHOOK_NOT_FOUND');
  });

  it('refuses URLs that are not http(s) or point at loopback, private or link-local addresses, saying why', async () => {
    const cases: [string, RegExp][] = [
      ['http://10.1.2.3/hook', /10\.1\.2\.3 is not a public address/],
      ['http://192.168.0.10/hook', /not a public address/],
      ['http://169.254.169.254/latest/meta-data', /not a public address/],
      ['http://127.0.0.2:8080/', /not a public address/], // loopback, but only 127.0.0.1 is allowed here
      ['http://[::1]:8080/', /::1 is not a public address/],
      ['http://[::ffff:10.0.0.1]/', /not a public address/],
      ['http://0x7f000002/', /127\.0\.0\.2 is not a public address/],
      ['ftp://example.com/', /must be http or https/],
      ['https://user:pw@example.com/', /user name or password/],
      ['not a url', /not an absolute URL/],
      ['https://no-such-host.invalid/', /does not resolve/],
    ];
    for (const [url, message] of cases) {
      const res = await call(alice, 'POST', '/v1/webhooks', { url });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(res.json().error.code, 'INVALID_WEBHOOK_URL', url);
      assert.match(res.json().error.message, message, url);
    }
    const badEvent = await call(alice, 'POST', '/v1/webhooks', {
      url: `${base}/x`,
      events: ['job.loss'],
    });
    assert.equal(badEvent.statusCode, 400);
    assert.equal(badEvent.json().error.code, 'INVALID_REQUEST');
    assert.equal(badEvent.json().error.field, 'events[0]');
  });

  it("keeps each tenant's webhooks to itself", async () => {
    const hook = await register(alice, '/private');
    for (const [method, url] of [
      ['GET', `/v1/webhooks/${hook.id}`],
      ['GET', `/v1/webhooks/${hook.id}/deliveries`],
      ['DELETE', `/v1/webhooks/${hook.id}`],
    ] as const) {
      const res = await call(bob, method, url);
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().error.code, 'WEBHOOK_NOT_FOUND');
    }
    assert.ok(
      !(await call(bob, 'GET', '/v1/webhooks'))
        .json()
        .items.some((w: { id: string }) => w.id === hook.id),
    );
    assert.equal((await call(alice, 'DELETE', `/v1/webhooks/${hook.id}`)).statusCode, 204);
  });

  it("delivers a job's events signed as documented, retries after a 500, gives up on a receiver that never answers", async () => {
    const flaky = await register(alice, '/flaky');
    const hang = await register(alice, '/hang', ['job.succeeded']);
    const others = await register(bob, '/bob');
    const submitted = await call(alice, 'POST', '/v1/jobs', tinySpec());
    assert.equal(submitted.statusCode, 201);
    const jobId = submitted.json().id;
    const job = await eventually(async () => {
      const j = (await call(alice, 'GET', `/v1/jobs/${jobId}`)).json();
      return ['succeeded', 'failed'].includes(j.status) ? j : undefined;
    });
    assert.equal(job.status, 'succeeded');

    // queued, running, two tasks, succeeded (status) and the final metrics.
    const done = await eventually(
      async () => {
        const d = await deliveries(alice, flaky.id);
        return d.length === 6 && d.every((x) => x.status === 'delivered') ? d : undefined;
      },
      100,
      30_000,
    );
    for (const d of done) {
      assert.equal(d.jobId, jobId);
      assert.deepEqual(
        [d.attempts, d.statusCode, d.lastError],
        [2, 204, null],
        `${d.eventType}: retried once after the 500`,
      );
      const attempts = received.filter((r) => r.id === d.id);
      assert.deepEqual(
        attempts.map((r) => r.answered),
        [500, 204],
      );
      assert.deepEqual(
        attempts.map((r) => r.verifyError),
        [null, null],
        'both attempts verify',
      );
      assert.equal(attempts[0].body, attempts[1].body, 'the same body on every attempt');
      assert.equal(attempts[0].message!.type, d.eventType);
    }
    const types = done.map((d) => d.eventType).sort();
    assert.deepEqual(types, [
      'job.status',
      'job.status',
      'job.status',
      'job.succeeded',
      'job.task_completed',
      'job.task_completed',
    ]);
    // Each body is the job's stream event with that id.
    const events = await svc.db.jobStreamEvent.findMany({ where: { jobId } });
    for (const d of done) {
      const message = received.find((r) => r.id === d.id)!.message!;
      assert.deepEqual(message.data, events.find((e) => e.seq === d.eventId)!.data);
      assert.match(message.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const metrics = (await call(alice, 'GET', `/v1/jobs/${jobId}/metrics`)).json();
    const final = received.find(
      (r) => r.path === '/flaky' && r.message?.type === 'job.succeeded',
    )!.message!;
    assert.deepEqual(final.data.accuracyMatrix, metrics.accuracyMatrix);

    const [failed] = await eventually(
      async () => {
        const d = await deliveries(alice, hang.id);
        return d.length === 1 && d[0].status === 'failed' ? d : undefined;
      },
      100,
      30_000,
    );
    assert.deepEqual(
      [failed.eventType, failed.attempts, failed.statusCode],
      ['job.succeeded', 3, null],
    );
    assert.match(failed.lastError!, /no answer within 1000 ms/);
    assert.equal(received.filter((r) => r.path === '/hang').length, 3);

    // Bob's webhook saw nothing of Alice's job: its deliveries would have been created with the events.
    assert.deepEqual(await deliveries(bob, others.id), []);
    assert.equal(received.filter((r) => r.path === '/bob').length, 0);
    assert.deepEqual(
      received.filter((r) => r.verifyError !== null),
      [],
    );
  });

  it('rotates a secret: during the overlap deliveries carry a signature per secret, then only the new one', async () => {
    const hook = await register(alice, '/rotate', ['job.succeeded']);
    const rotate = (auth: string, id: string, query = '') =>
      call(auth, 'POST', `/v1/webhooks/${id}/rotate-secret${query}`);
    assert.equal((await rotate(bob, hook.id)).statusCode, 404, "another tenant's webhook");
    const invalid = await rotate(alice, hook.id, '?overlapSeconds=-1');
    assert.equal(invalid.statusCode, 400);
    assert.equal(invalid.json().error.code, 'INVALID_REQUEST');

    const rotated = await rotate(alice, hook.id); // the default overlap: a day
    assert.equal(rotated.statusCode, 200, rotated.body);
    const second = rotated.json();
    assert.match(second.secret, /^whsec_/);
    assert.notEqual(second.secret, hook.secret);
    const overlapMs = Date.parse(second.previousSecretExpiresAt) - Date.now();
    assert.ok(overlapMs > 86_000_000 && overlapMs <= 86_400_000, `${overlapMs} ms`);
    const read = (await call(alice, 'GET', `/v1/webhooks/${hook.id}`)).json();
    assert.equal(read.secret, undefined);
    assert.equal(read.previousSecretExpiresAt, second.previousSecretExpiresAt);

    /** The delivery of the next job's job.succeeded event to /rotate, as received. */
    const nextDelivery = async () => {
      const seen = received.filter((r) => r.path === '/rotate').length;
      const submitted = await call(alice, 'POST', '/v1/jobs', tinySpec());
      assert.equal(submitted.statusCode, 201);
      return eventually(
        async () => received.filter((r) => r.path === '/rotate')[seen],
        100,
        60_000,
      );
    };
    const verifies = (secret: string, r: Received) => {
      try {
        verifyWebhook(secret, r.headers, r.body);
        return true;
      } catch {
        return false;
      }
    };
    const during = await nextDelivery();
    assert.equal(String(during.headers['webhook-signature']).split(' ').length, 2);
    assert.ok(verifies(hook.secret, during), 'the old secret still verifies');
    assert.ok(verifies(second.secret, during), 'the new secret verifies');

    const third = (await rotate(alice, hook.id, '?overlapSeconds=0')).json();
    secrets.set('/rotate', third.secret);
    assert.equal(third.previousSecretExpiresAt, null);
    const afterwards = await nextDelivery();
    assert.equal(String(afterwards.headers['webhook-signature']).split(' ').length, 1);
    assert.ok(verifies(third.secret, afterwards));
    assert.ok(!verifies(second.secret, afterwards), 'retired at once');
    assert.ok(!verifies(hook.secret, afterwards));
  });
});
