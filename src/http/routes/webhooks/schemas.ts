import { Type, type Static } from '@sinclair/typebox';
import { WEBHOOK_EVENT_TYPES } from '../../../services/ports.js';
import {
  DEFAULT_SECRET_OVERLAP_SECONDS,
  MAX_SECRET_OVERLAP_SECONDS,
} from '../../../services/webhooks/webhook.service.js';
import { Nullable, Uuid, WithDefault } from '../../schemas.js';

const EventType = Type.Union(
  WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)),
  {
    description:
      'job.status (every transition), job.task_completed (a row of the accuracy matrix), job.succeeded (final metrics), job.failed (error), job.cancelled',
  },
);

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'http(s) URL that receives the events; it must resolve to public addresses only',
    }),
    events: Type.Optional(
      Type.Array(EventType, {
        minItems: 1,
        maxItems: WEBHOOK_EVENT_TYPES.length,
        uniqueItems: true,
        description: 'event types to deliver; default: all of them',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const WebhookParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const PageQuery = Type.Object(
  {
    limit: WithDefault(
      Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size' }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

export const WebhookResource = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    events: Type.Array(EventType),
    createdAt: Type.String({ format: 'date-time' }),
    previousSecretExpiresAt: Nullable(
      Type.String({
        format: 'date-time',
        description:
          'after a secret rotation: until then deliveries also carry a signature made with the previous secret',
      }),
    ),
    links: Type.Object({
      self: Type.String(),
      deliveries: Type.String(),
      rotateSecret: Type.String(),
    }),
  },
  { $id: 'Webhook' },
);
export type WebhookResource = Static<typeof WebhookResource>;

export const CreatedWebhook = Type.Object({
  ...WebhookResource.properties,
  secret: Type.String({
    description:
      'the signing secret (whsec_ + base64 key), shown only in this response: keep it to verify the webhook-signature header of deliveries',
  }),
});

export const RotateSecretQuery = Type.Object(
  {
    overlapSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SECRET_OVERLAP_SECONDS,
        description: `how long the previous secret keeps signing deliveries (next to the new one), default ${DEFAULT_SECRET_OVERLAP_SECONDS} (a day); 0 retires it at once`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type RotateSecretQuery = Static<typeof RotateSecretQuery>;

export const WebhookList = Type.Object({
  items: Type.Array(Type.Ref(WebhookResource)),
  nextCursor: Nullable(
    Type.String({ description: 'pass as ?cursor= for the next page; null on the last page' }),
  ),
});

export const DeliveryResource = Type.Object({
  id: Uuid,
  jobId: Uuid,
  eventType: EventType,
  eventId: Type.Integer({
    description: "the event's id in the job's stream (GET /v1/jobs/:id/stream)",
  }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], {
    description:
      'pending: not delivered yet, attempts left; delivered: a 2xx answer; failed: no attempt left (or the URL resolves to a refused address)',
  }),
  attempts: Type.Integer(),
  statusCode: Nullable(
    Type.Integer({ description: 'HTTP status of the last attempt; null when there was no answer' }),
  ),
  lastError: Nullable(Type.String({ description: 'why the last attempt failed' })),
  createdAt: Type.String({ format: 'date-time' }),
  lastAttemptAt: Nullable(Type.String({ format: 'date-time' })),
  deliveredAt: Nullable(Type.String({ format: 'date-time' })),
});

export const DeliveryList = Type.Object({
  items: Type.Array(DeliveryResource),
  nextCursor: Nullable(
    Type.String({ description: 'pass as ?cursor= for the next page; null on the last page' }),
  ),
});

export const WEBHOOKS_DESCRIPTION = `Every event of the chosen types of every job of yours is POSTed to the URL as JSON
\`{"type", "timestamp", "data"}\` (data as in the job's event stream), signed as the Standard Webhooks specification
says: headers \`webhook-id\` (the delivery id, the same on every attempt: deduplicate on it), \`webhook-timestamp\`
(seconds) and \`webhook-signature\` = \`v1,\` + base64 HMAC-SHA256 over \`<webhook-id>.<webhook-timestamp>.<body>\`
with the base64-decoded part of the secret after \`whsec_\`. A 2xx answer within WEBHOOK_TIMEOUT_MS (5 s)
delivers it; anything else is retried with exponential backoff (WEBHOOK_ATTEMPTS attempts in all). Delivery is at
least once and not ordered. The URL must resolve to public addresses, at registration and at every delivery.`;
