/**
 * The webhook queue's processor: validates the payload and makes one delivery attempt
 * (deliverWebhook). A failed attempt throws so that BullMQ retries it with backoff; the last one,
 * or one to a refused address, throws UnrecoverableError.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { assertDeliverWebhookPayload, WebhookJobName } from '../../src/infra/queue/jobs.js';
import {
  deliverWebhook,
  type DeliverDeps,
  type DeliveryOutcome,
} from '../../src/services/webhooks/deliver-webhook.js';

export function deliverWebhookProcessor(deps: DeliverDeps) {
  return async (job: Job): Promise<DeliveryOutcome> => {
    if (job.name !== (WebhookJobName.Deliver as string))
      throw new UnrecoverableError(`no processor for job "${job.name}" on the webhook queue`);
    assertDeliverWebhookPayload(job.data);
    const result = await deliverWebhook(job.data.deliveryId, deps);
    if (result.outcome === 'retry') throw new Error(result.error);
    if (result.outcome === 'failed') throw new UnrecoverableError(result.error);
    return result;
  };
}
