import type { PrismaClient, Webhook, WebhookDelivery } from '../../generated/prisma/client.js';
import type { Cursor } from '../../services/pagination.js';
import type {
  WebhookDeliveryRecord,
  WebhookEventType,
  WebhookRecord,
  WebhookRepository,
} from '../../services/ports.js';

const toWebhook = (w: Webhook): WebhookRecord => ({
  id: w.id,
  tenantId: w.tenantId,
  url: w.url,
  events: w.events as WebhookEventType[],
  createdAt: w.createdAt,
  previousSecretExpiresAt: w.previousSecretExpiresAt,
});

const toDelivery = (d: WebhookDelivery): WebhookDeliveryRecord => ({
  id: d.id,
  webhookId: d.webhookId,
  jobId: d.jobId,
  eventSeq: d.eventSeq,
  eventType: d.eventType as WebhookEventType,
  status: d.status,
  attempts: d.attempts,
  statusCode: d.statusCode,
  lastError: d.lastError,
  createdAt: d.createdAt,
  lastAttemptAt: d.lastAttemptAt,
  deliveredAt: d.deliveredAt,
});

/** Newest first, after the cursor's (createdAt, id). */
const before = (after?: Cursor) =>
  after
    ? {
        OR: [
          { createdAt: { lt: after.createdAt } },
          { createdAt: after.createdAt, id: { lt: after.id } },
        ],
      }
    : {};
const newestFirst = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];

/**
 * Webhooks as the API reads and writes them; deliveries are created by a trigger (migration
 * 20261203010000_webhooks).
 */
export class PrismaWebhookRepository implements WebhookRepository {
  constructor(private readonly db: PrismaClient) {}

  async create(w: {
    id: string;
    tenantId: string;
    url: string;
    events: WebhookEventType[];
    secret: string;
  }): Promise<WebhookRecord> {
    return toWebhook(await this.db.webhook.create({ data: w }));
  }

  async count(tenantId: string): Promise<number> {
    return this.db.webhook.count({ where: { tenantId } });
  }

  async list(tenantId: string, opts: { limit: number; after?: Cursor }): Promise<WebhookRecord[]> {
    const rows = await this.db.webhook.findMany({
      where: { tenantId, ...before(opts.after) },
      orderBy: newestFirst,
      take: opts.limit,
    });
    return rows.map(toWebhook);
  }

  async get(tenantId: string, id: string): Promise<WebhookRecord | null> {
    const row = await this.db.webhook.findFirst({ where: { id, tenantId } });
    return row ? toWebhook(row) : null;
  }

  async rotateSecret(
    tenantId: string,
    id: string,
    secret: string,
    previousExpiresAt: Date | null,
  ): Promise<WebhookRecord | null> {
    // One statement: two rotations at once cannot both keep the secret they read as "previous".
    const rows = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE webhooks
      SET previous_secret = CASE WHEN ${previousExpiresAt}::timestamp(3) IS NULL THEN NULL ELSE secret END,
          previous_secret_expires_at = ${previousExpiresAt}::timestamp(3),
          secret = ${secret}
      WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid
      RETURNING id`;
    return rows.length ? this.get(tenantId, id) : null;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const { count } = await this.db.webhook.deleteMany({ where: { id, tenantId } });
    return count > 0;
  }

  async deliveries(
    webhookId: string,
    opts: { limit: number; after?: Cursor },
  ): Promise<WebhookDeliveryRecord[]> {
    const rows = await this.db.webhookDelivery.findMany({
      where: { webhookId, ...before(opts.after) },
      orderBy: newestFirst,
      take: opts.limit,
    });
    return rows.map(toDelivery);
  }
}
