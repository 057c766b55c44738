/** Webhooks: register, list, read, delete, and each one's delivery log. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { WebhookService } from '../../../services/webhooks/webhook.service.js';
import { Described, errors, JSON_BODY_ERRORS } from '../../schemas.js';
import { deliveryView, webhookView } from '../../views.js';
import {
  CreatedWebhook,
  CreateWebhookBody,
  DeliveryList,
  PageQuery,
  RotateSecretQuery,
  WEBHOOKS_DESCRIPTION,
  WebhookList,
  WebhookParams,
  WebhookResource,
} from './schemas.js';

const tags = ['webhooks'];
const security = [{ bearerAuth: [] }];
// A malformed webhook is not a job spec: body errors say INVALID_REQUEST.
const config = { bodyErrorCode: 'INVALID_REQUEST' as const };

const webhooksRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (
  app,
  { webhooks },
) => {
  app.post(
    '/v1/webhooks',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'createWebhook',
        summary:
          'Register a webhook for job events; the answer holds its signing secret, shown once',
        description: WEBHOOKS_DESCRIPTION,
        body: CreateWebhookBody,
        response: {
          201: Described(CreatedWebhook, 'the webhook and its signing secret (shown only here)'),
          ...errors([
            'INVALID_REQUEST',
            ...JSON_BODY_ERRORS,
            'INVALID_WEBHOOK_URL',
            'WEBHOOK_LIMIT_REACHED',
          ]),
        },
      },
    },
    async (request, reply) => {
      const { webhook, secret } = await webhooks.create(request.tenant.id, request.body);
      return reply
        .code(201)
        .header('location', `/v1/webhooks/${webhook.id}`)
        .send({ ...webhookView(webhook), secret });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      schema: {
        tags,
        security,
        operationId: 'listWebhooks',
        summary: 'List webhooks, newest first',
        description:
          'One page of your webhooks (never their secrets); pass `nextCursor` as `cursor` for the next page.',
        querystring: PageQuery,
        response: {
          200: Described(WebhookList, 'a page of webhooks'),
          ...errors(['INVALID_REQUEST', 'INVALID_CURSOR']),
        },
      },
    },
    async (request) => {
      const page = await webhooks.list(request.tenant.id, request.query);
      return { items: page.items.map(webhookView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'getWebhook',
        summary: 'Get a webhook (without its secret)',
        description: 'Its URL, event types and creation time.',
        params: WebhookParams,
        response: {
          200: Described(Type.Ref(WebhookResource), 'the webhook'),
          ...errors(['INVALID_REQUEST', 'WEBHOOK_NOT_FOUND']),
        },
      },
    },
    async (request) => webhookView(await webhooks.get(request.tenant.id, request.params.id)),
  );

  app.post(
    '/v1/webhooks/:id/rotate-secret',
    {
      schema: {
        tags,
        security,
        operationId: 'rotateWebhookSecret',
        summary: 'Give a webhook a new signing secret, shown once in this answer',
        description:
          'The old secret keeps signing deliveries for `overlapSeconds` (a second signature in `webhook-signature`), so a receiver can switch to the new one without refusing a delivery; `previousSecretExpiresAt` says until when. A rotation during an overlap retires the secret before the old one.',
        params: WebhookParams,
        querystring: RotateSecretQuery,
        response: {
          200: Described(CreatedWebhook, 'the webhook with its new secret'),
          ...errors(['INVALID_REQUEST', 'WEBHOOK_NOT_FOUND']),
        },
      },
    },
    async (request) => {
      const { webhook, secret } = await webhooks.rotateSecret(
        request.tenant.id,
        request.params.id,
        request.query.overlapSeconds,
      );
      return { ...webhookView(webhook), secret };
    },
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        security,
        operationId: 'deleteWebhook',
        summary:
          'Delete a webhook: no more deliveries (pending ones are dropped), and its delivery log goes too',
        description:
          'Answers 204. The webhook and its delivery log are gone, and deliveries not yet sent are dropped.',
        params: WebhookParams,
        response: {
          204: Type.Null({ description: 'deleted' }),
          ...errors(['INVALID_REQUEST', 'WEBHOOK_NOT_FOUND']),
        },
      },
    },
    async (request, reply) => {
      await webhooks.delete(request.tenant.id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        security,
        operationId: 'listWebhookDeliveries',
        summary:
          'Delivery log of a webhook, newest first: status, attempts, last HTTP status and error',
        description:
          'One page of the deliveries of this webhook; pass `nextCursor` as `cursor` for the next page.',
        params: WebhookParams,
        querystring: PageQuery,
        response: {
          200: Described(DeliveryList, 'a page of deliveries'),
          ...errors(['INVALID_REQUEST', 'INVALID_CURSOR', 'WEBHOOK_NOT_FOUND']),
        },
      },
    },
    async (request) => {
      const page = await webhooks.deliveries(request.tenant.id, request.params.id, request.query);
      return { items: page.items.map(deliveryView), nextCursor: page.nextCursor };
    },
  );
};

export default webhooksRoutes;
