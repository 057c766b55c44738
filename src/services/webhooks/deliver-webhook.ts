/**
 * One attempt at delivering a webhook event (the webhook worker's use case): sign the body with
 * fresh headers, POST it, record the answer. A 2xx answer delivers it; anything else is retried
 * by the queue with backoff until `maxAttempts` (counted in Postgres, so a delivery the queue lost
 * and got back keeps its count). A URL that now resolves to a refused address fails at once.
 */
import { ServiceError } from '../errors.js';
import type { WebhookDeliveryQueue, WebhookDeliveryStore, WebhookSender } from '../ports.js';
import { webhookHeaders } from './signature.js';

export type DeliveryOutcome =
  | { outcome: 'delivered'; statusCode: number }
  /** Not delivered; the queue should try again. */
  | { outcome: 'retry'; error: string }
  /** Not delivered, and no attempt is left (or the address is refused). */
  | { outcome: 'failed'; error: string }
  /** Nothing to do: the delivery is gone (webhook deleted) or no longer pending. */
  | { outcome: 'skipped' };

export interface DeliverDeps {
  store: WebhookDeliveryStore;
  sender: WebhookSender;
  maxAttempts: number;
  now?: () => number;
}

const describe = (err: unknown): string => {
  const e = err as { code?: unknown; message?: unknown };
  const text = typeof e?.message === 'string' ? e.message : String(err);
  return (
    typeof e?.code === 'string' && !text.includes(e.code) ? `${e.code}: ${text}` : text
  ).slice(0, 500);
};

export async function deliverWebhook(
  deliveryId: string,
  deps: DeliverDeps,
): Promise<DeliveryOutcome> {
  const d = await deps.store.load(deliveryId);
  if (!d || d.status !== 'pending') return { outcome: 'skipped' };
  const timestamp = Math.floor((deps.now ?? Date.now)() / 1000);
  let statusCode: number | null = null;
  let error: string | null = null;
  let refused = false;
  try {
    statusCode = (
      await deps.sender.post(d.url, webhookHeaders(d.secrets, d.id, timestamp, d.body), d.body)
    ).status;
    if (statusCode < 200 || statusCode >= 300) error = `the receiver answered HTTP ${statusCode}`;
  } catch (err) {
    error = describe(err);
    refused = err instanceof ServiceError && err.code === 'INVALID_WEBHOOK_URL';
  }
  const last = refused || d.attempts + 1 >= deps.maxAttempts;
  const status = error === null ? 'delivered' : last ? 'failed' : 'pending';
  await deps.store.recordAttempt(d.id, { statusCode, error, status });
  if (error === null) return { outcome: 'delivered', statusCode: statusCode! };
  return last ? { outcome: 'failed', error } : { outcome: 'retry', error };
}

/**
 * Puts pending deliveries on the queue: new ones (created by Postgres with their event), and
 * those queued before `lostBefore` that the queue no longer has (Redis lost them); the ones it
 * still has (waiting for a retry) are looked at again after as long. Returns how many were queued.
 */
export async function queuePendingDeliveries(
  store: WebhookDeliveryStore,
  queue: WebhookDeliveryQueue,
  lostBefore: Date,
): Promise<number> {
  let queued = 0;
  for (;;) {
    const ids = await store.unqueued(500);
    if (ids.length === 0) break;
    await queue.add(ids);
    await store.markQueued(ids);
    queued += ids.length;
  }
  const stale = await store.queuedBefore(lostBefore, 100);
  const lost: string[] = [];
  for (const id of stale) if (!(await queue.has(id))) lost.push(id);
  if (lost.length) await queue.add(lost);
  if (stale.length) await store.markQueued(stale);
  return queued + lost.length;
}
