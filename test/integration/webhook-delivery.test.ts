/**
 * One delivery attempt with the real store, sender and address policy, against a receiver on
 * loopback: the connection goes to the address that was checked, and a host that resolved to a
 * public address at registration but to a private one at delivery (DNS rebinding) is refused
 * without a request being sent.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { verifyWebhook } from '../../examples/webhook-receiver.js';
import { resolveSpec } from '../../src/core/index.js';
import { PrismaJobRepository } from '../../src/infra/prisma/job.repository.js';
import { PrismaWebhookDeliveryStore } from '../../src/infra/prisma/webhook-delivery.repository.js';
import { PrismaWebhookRepository } from '../../src/infra/prisma/webhook.repository.js';
import {
  parseNetworks,
  WebhookAddressPolicy,
  type Lookup,
} from '../../src/infra/webhooks/address-policy.js';
import { HttpWebhookSender } from '../../src/infra/webhooks/http-sender.js';
import {
  deliverWebhook,
  queuePendingDeliveries,
} from '../../src/services/webhooks/deliver-webhook.js';
import { WebhookService } from '../../src/services/webhooks/webhook.service.js';
import { createTestService, tinySpec, type TestService } from '../helpers/service.js';

describe('webhook delivery', () => {
  let svc: TestService;
  let tenantId: string;
  let receiver: http.Server;
  let port: number;
  const requests: { host: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const store = () => new PrismaWebhookDeliveryStore(svc.db);

  /** A job event for the tenant; returns the ids of the deliveries it created. */
  const event = async () => {
    const { job } = await new PrismaJobRepository(svc.db, svc.pool).create({
      tenantId,
      name: null,
      metadata: null,
      spec: resolveSpec(tinySpec()),
      idempotencyKey: null,
      requestHash: null,
    });
    return (await svc.db.webhookDelivery.findMany({ where: { jobId: job.id } })).map((d) => d.id);
  };
  const register = async (url: string, lookup: Lookup) => {
    const service = new WebhookService(
      new PrismaWebhookRepository(svc.db),
      new WebhookAddressPolicy(parseNetworks('127.0.0.1'), lookup),
    );
    return service.create(tenantId, { url, events: ['job.status'] });
  };
  const sender = (lookup: Lookup) =>
    new HttpWebhookSender(new WebhookAddressPolicy(parseNetworks('127.0.0.1'), lookup), 2000);

  before(async () => {
    svc = await createTestService('webhookdelivery');
    await svc.auth('acme');
    tenantId = (await svc.db.tenant.findFirstOrThrow()).id;
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        requests.push({ host: req.headers.host ?? '', headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as AddressInfo).port;
  });
  after(async () => {
    receiver?.close();
    await svc?.close();
  });

  it('connects to the checked address, keeping the host name in the request', async () => {
    // receiver.example.test exists only in this lookup: the request can only arrive through it.
    const lookup: Lookup = async (host) =>
      host === 'receiver.example.test' ? [{ address: '127.0.0.1', family: 4 }] : [];
    const { webhook, secret } = await register(`http://receiver.example.test:${port}/in`, lookup);
    const [id] = await event();
    const outcome = await deliverWebhook(id, {
      store: store(),
      sender: sender(lookup),
      maxAttempts: 3,
    });
    assert.deepEqual(outcome, { outcome: 'delivered', statusCode: 200 });
    const req = requests.at(-1)!;
    assert.equal(req.host, `receiver.example.test:${port}`);
    assert.equal(req.headers['webhook-id'], id);
    assert.equal(verifyWebhook(secret, req.headers, req.body).type, 'job.status');
    const d = await svc.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    assert.deepEqual(
      [d.status, d.attempts, d.statusCode, d.lastError, d.deliveredAt !== null],
      ['delivered', 1, 200, null, true],
    );
    // Delivered: a second attempt (the queue retrying after a crash) sends nothing.
    assert.deepEqual(
      await deliverWebhook(id, { store: store(), sender: sender(lookup), maxAttempts: 3 }),
      { outcome: 'skipped' },
    );
    await svc.db.webhook.delete({ where: { id: webhook.id } });
  });

  it('refuses, without retrying, a host that now resolves to a private address (DNS rebinding)', async () => {
    const atRegistration: Lookup = async () => [{ address: '93.184.215.14', family: 4 }];
    const atDelivery: Lookup = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    const { webhook } = await register(`http://rebind.example.test:${port}/in`, atRegistration);
    const before = requests.length;
    const [id] = await event();
    const outcome = await deliverWebhook(id, {
      store: store(),
      sender: sender(atDelivery),
      maxAttempts: 3,
    });
    assert.equal(outcome.outcome, 'failed');
    assert.equal(requests.length, before, 'nothing was sent');
    const d = await svc.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    assert.deepEqual([d.status, d.attempts, d.statusCode], ['failed', 1, null]);
    assert.match(d.lastError!, /resolves to 10\.0\.0\.7, which is not a public address/);
    await svc.db.webhook.delete({ where: { id: webhook.id } });
  });

  it('queues pending deliveries once, and again only when the queue lost them', async () => {
    const lookup: Lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const { webhook } = await register(`http://127.0.0.1:${port}/q`, lookup);
    const ids = [...(await event()), ...(await event())];
    const queued: string[] = [];
    const queue = {
      add: async (more: string[]) => void queued.push(...more),
      has: async (id: string) => queued.includes(id),
    };
    assert.equal(await queuePendingDeliveries(store(), queue, new Date(0)), 2);
    assert.deepEqual(queued.sort(), [...ids].sort());
    assert.equal(await queuePendingDeliveries(store(), queue, new Date(0)), 0, 'already queued');
    queued.length = 0; // Redis lost them
    assert.equal(await queuePendingDeliveries(store(), queue, new Date(Date.now() + 1000)), 2);
    await svc.db.webhook.delete({ where: { id: webhook.id } });
  });

  it('counts an address as refused or allowed by its network, IPv4-mapped IPv6 included', () => {
    const policy = new WebhookAddressPolicy(parseNetworks('127.0.0.1, fd00::/8'));
    const allowed = [
      '127.0.0.1',
      '::ffff:127.0.0.1',
      'fd12::1',
      '93.184.215.14',
      '2606:2800:220:1::',
    ];
    const refused = [
      '127.0.0.2',
      '10.0.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fc00::1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
      '64:ff9b::a00:1',
    ];
    for (const a of allowed) assert.ok(policy.allows(a), a);
    for (const a of refused) assert.ok(!policy.allows(a), a);
    assert.throws(() => parseNetworks('10.0.0.0/33'), /not an address or a CIDR network/);
    assert.throws(() => parseNetworks('example.com'), /not an address or a CIDR network/);
  });
});
