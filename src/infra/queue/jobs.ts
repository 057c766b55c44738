/**
 * The one definition of the queue's job contracts, used by the producer (API) and the consumer
 * (worker). Payloads carry ids only: BullMQ stores job data in clear text in Redis.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export enum JobName {
  TrainJob = 'train-job',
}

export const TrainJobPayload = Type.Object(
  { jobId: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }) },
  { additionalProperties: false },
);

export const JobPayloadSchemas = {
  [JobName.TrainJob]: TrainJobPayload,
} satisfies Record<JobName, unknown>;

export type JobPayload<N extends JobName> = Static<(typeof JobPayloadSchemas)[N]>;
export type JobItem = { [N in JobName]: { name: N; data: JobPayload<N> } }[JobName];
export type JobOf<N extends JobName> = Extract<JobItem, { name: N }>;

export class InvalidPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Checks a payload on enqueue and on dequeue. */
export function assertPayload<N extends JobName>(
  name: N,
  data: unknown,
): asserts data is JobPayload<N> {
  const schema = JobPayloadSchemas[name];
  if (!schema) throw new InvalidPayloadError(`unknown job name "${name}"`);
  const error = Value.Errors(schema, data).First();
  if (error)
    throw new InvalidPayloadError(`invalid ${name} payload at "${error.path}": ${error.message}`);
}

/**
 * The webhook queue's contract (its own queue, WEBHOOK_QUEUE_NAME, served by
 * workers/webhook.worker.ts). The BullMQ job id is the delivery id.
 */
export enum WebhookJobName {
  Deliver = 'deliver-webhook',
}

export const DeliverWebhookPayload = Type.Object(
  { deliveryId: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }) },
  { additionalProperties: false },
);
export type DeliverWebhookPayload = Static<typeof DeliverWebhookPayload>;

export function assertDeliverWebhookPayload(data: unknown): asserts data is DeliverWebhookPayload {
  const error = Value.Errors(DeliverWebhookPayload, data).First();
  if (error)
    throw new InvalidPayloadError(
      `invalid ${WebhookJobName.Deliver} payload at "${error.path}": ${error.message}`,
    );
}
