/**
 * Webhook worker entry point (`npm run start:webhooks`; `npm start` runs one). An ordinary BullMQ
 * Worker (deliveries are I/O, not CPU: no sandbox) on its own queue, so a slow or dead receiver
 * never holds up training, plus the dispatcher that feeds that queue: Postgres creates a delivery
 * row with every event a webhook wants (an outbox) and NOTIFYs; this process LISTENs, and sweeps
 * every WEBHOOK_SWEEP_MS, and queues pending deliveries by id. Run as many as you like: a
 * delivery is queued once whoever queues it, and sent by one worker at a time.
 */
import { Worker } from 'bullmq';
import { loadEnv } from '../src/config/env.js';
import { webhookChannel } from '../src/infra/events/channels.js';
import { PgListener } from '../src/infra/events/pg-listener.js';
import { createPgPool, createPrismaClient } from '../src/infra/prisma/client.js';
import { PrismaWebhookDeliveryStore } from '../src/infra/prisma/webhook-delivery.repository.js';
import { workerConnection } from '../src/infra/queue/connection.js';
import { BullWebhookQueue } from '../src/infra/queue/webhook.queue.js';
import { parseNetworks, WebhookAddressPolicy } from '../src/infra/webhooks/address-policy.js';
import { HttpWebhookSender } from '../src/infra/webhooks/http-sender.js';
import { queuePendingDeliveries } from '../src/services/webhooks/deliver-webhook.js';
import { deliverWebhookProcessor } from './processors/deliver-webhook.processor.js';

const config = loadEnv();
const log = (msg: string) => console.log(`[webhooks ${process.pid}] ${msg}`);

/** Queued deliveries still pending after this long are checked against the queue (Redis may have lost them). */
const LOST_AFTER_MS = 10 * 60_000;

const pool = createPgPool({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: 4 });
pool.on('error', (err) => log(`postgres: ${err.message}`));
const store = new PrismaWebhookDeliveryStore(
  createPrismaClient({ url: config.databaseUrl, schema: config.databaseSchema, pool }),
);
const sender = new HttpWebhookSender(
  new WebhookAddressPolicy(parseNetworks(config.WEBHOOK_ALLOWED_NETWORKS)),
  config.WEBHOOK_TIMEOUT_MS,
);

const queueConnection = workerConnection(config.REDIS_URL);
queueConnection.on('error', (err) => log(`redis: ${err.message}`));
const queue = new BullWebhookQueue(
  queueConnection,
  {
    name: config.WEBHOOK_QUEUE_NAME,
    prefix: config.QUEUE_PREFIX,
    attempts: config.WEBHOOK_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
  },
  (err) => log(`queue: ${err.message}`),
);

const connection = workerConnection(config.REDIS_URL);
connection.on('error', (err) => log(`redis: ${err.message}`));
const worker = new Worker(
  config.WEBHOOK_QUEUE_NAME,
  deliverWebhookProcessor({ store, sender, maxAttempts: config.WEBHOOK_ATTEMPTS }),
  {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WEBHOOK_CONCURRENCY,
  },
);
worker.on('error', (err) => log(`error: ${err.message}`));
worker.on('failed', (job, err) => log(`delivery ${job?.id} attempt failed: ${err.message}`));

// The dispatcher: one sweep at a time; a NOTIFY during a sweep asks for another.
let sweeping: Promise<void> | null = null;
let again = false;
function sweep(): void {
  if (sweeping) {
    again = true;
    return;
  }
  sweeping = queuePendingDeliveries(store, queue, new Date(Date.now() - LOST_AFTER_MS))
    .then((n) => void (n && log(`queued ${n} deliver${n === 1 ? 'y' : 'ies'}`)))
    .catch((err: Error) =>
      log(`sweep failed (next in ${config.WEBHOOK_SWEEP_MS} ms): ${err.message}`),
    )
    .finally(() => {
      sweeping = null;
      if (again) {
        again = false;
        sweep();
      }
    });
}
const listener = new PgListener({
  url: config.databaseUrl,
  channel: webhookChannel(config.databaseSchema),
  applicationName: 'retain-webhooks',
  onNotification: sweep,
  onReconnect: sweep,
  onError: (err) => log(`listen: ${err.message}`),
});
await listener
  .listening()
  .catch((err: Error) =>
    log(
      `not listening yet (${err.message}); sweeping every ${config.WEBHOOK_SWEEP_MS} ms meanwhile`,
    ),
  );
const timer = setInterval(sweep, config.WEBHOOK_SWEEP_MS);
await worker.waitUntilReady();
sweep();
log(
  `ready: webhook queue "${config.WEBHOOK_QUEUE_NAME}", concurrency ${config.WEBHOOK_CONCURRENCY}, timeout ${config.WEBHOOK_TIMEOUT_MS} ms, ${config.WEBHOOK_ATTEMPTS} attempts`,
);

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  log(`${signal}: finishing the deliveries in flight`);
  clearInterval(timer);
  // An attempt in flight ends within WEBHOOK_TIMEOUT_MS; one cut short is retried (at least once).
  setTimeout(() => process.exit(1), config.WEBHOOK_TIMEOUT_MS + 5000).unref();
  await worker.close();
  await listener.close();
  await sweeping;
  await queue.close();
  connection.disconnect();
  queueConnection.disconnect();
  await pool.end();
  log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
