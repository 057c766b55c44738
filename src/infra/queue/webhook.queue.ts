/** The webhook worker's producer side: puts deliveries on the webhook queue (the `WebhookDeliveryQueue` port). */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WebhookDeliveryQueue } from '../../services/ports.js';
import { assertDeliverWebhookPayload, WebhookJobName } from './jobs.js';

export interface WebhookQueueSettings {
  name: string;
  prefix: string;
  attempts: number;
  backoffMs: number;
}

export class BullWebhookQueue implements WebhookDeliveryQueue {
  readonly queue: Queue;

  constructor(
    connection: Redis,
    private readonly settings: WebhookQueueSettings,
    onError: (err: Error) => void = () => {},
  ) {
    this.queue = new Queue(settings.name, { connection, prefix: settings.prefix });
    this.queue.on('error', onError);
  }

  async add(deliveryIds: string[]): Promise<void> {
    const jobs = deliveryIds.map((deliveryId) => {
      const data = { deliveryId };
      assertDeliverWebhookPayload(data);
      return {
        name: WebhookJobName.Deliver,
        data,
        opts: {
          // The delivery id: queuing a delivery twice (two workers, a sweep after a NOTIFY) is a no-op.
          jobId: deliveryId,
          // deliverWebhook counts attempts in Postgres and ends the last one itself; this only has to be enough.
          attempts: this.settings.attempts,
          backoff: { type: 'exponential', delay: this.settings.backoffMs },
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 24 * 3600 },
        },
      };
    });
    await this.queue.addBulk(jobs);
  }

  async has(deliveryId: string): Promise<boolean> {
    return (await this.queue.getJob(deliveryId)) !== undefined;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
