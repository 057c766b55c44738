import type { PrismaClient } from '../../generated/prisma/client.js';
import type { DeliveryStatus, DeliveryToSend, WebhookDeliveryStore } from '../../services/ports.js';

/** Deliveries as the webhook worker queues, sends and records them (any tenant). */
export class PrismaWebhookDeliveryStore implements WebhookDeliveryStore {
  constructor(private readonly db: PrismaClient) {}

  async unqueued(limit: number): Promise<string[]> {
    const rows = await this.db.webhookDelivery.findMany({
      where: { status: 'pending', enqueuedAt: null },
      orderBy: { createdAt: 'asc' },
      take: limit,
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  async queuedBefore(before: Date, limit: number): Promise<string[]> {
    const rows = await this.db.webhookDelivery.findMany({
      where: { status: 'pending', enqueuedAt: { lt: before } },
      orderBy: { enqueuedAt: 'asc' },
      take: limit,
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  async markQueued(ids: string[]): Promise<void> {
    await this.db.webhookDelivery.updateMany({
      where: { id: { in: ids } },
      data: { enqueuedAt: new Date() },
    });
  }

  async load(id: string): Promise<DeliveryToSend | null> {
    const row = await this.db.webhookDelivery.findUnique({
      where: { id },
      include: {
        webhook: {
          select: { url: true, secret: true, previousSecret: true, previousSecretExpiresAt: true },
        },
      },
    });
    if (!row) return null;
    return {
      id: row.id,
      status: row.status,
      attempts: row.attempts,
      url: row.webhook.url,
      secrets: [
        row.webhook.secret,
        ...(row.webhook.previousSecret &&
        row.webhook.previousSecretExpiresAt &&
        row.webhook.previousSecretExpiresAt > new Date()
          ? [row.webhook.previousSecret]
          : []),
      ],
      body: JSON.stringify(row.payload),
    };
  }

  async recordAttempt(
    id: string,
    a: { statusCode: number | null; error: string | null; status: DeliveryStatus },
  ): Promise<void> {
    const now = new Date();
    await this.db.webhookDelivery.updateMany({
      where: { id },
      data: {
        attempts: { increment: 1 },
        statusCode: a.statusCode,
        lastError: a.error,
        status: a.status,
        lastAttemptAt: now,
        ...(a.status === 'delivered' ? { deliveredAt: now } : {}),
      },
    });
  }
}
