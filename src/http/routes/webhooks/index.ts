/** Webhooks: register, list, read, delete, and each one's delivery log. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { WebhookService } from '../../../services/webhooks/webhook.service.js';
import { errors } from '../../schemas.js';
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
        summary:
          'Register a webhook for job events; the answer holds its signing secret, shown once',
        description: WEBHOOKS_DESCRIPTION,
        body: CreateWebhookBody,
        response: { 201: CreatedWebhook, ...errors(400, 401, 409) },
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
        summary: 'List webhooks, newest first',
        querystring: PageQuery,
        response: { 200: WebhookList, ...errors(400, 401) },
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
        summary: 'Get a webhook (without its secret)',
        params: WebhookParams,
        response: { 200: Type.Ref(WebhookResource), ...errors(400, 401, 404) },
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
        summary:
          'Give a webhook a new signing secret (shown once); the old one keeps signing deliveries for overlapSeconds',
        params: WebhookParams,
        querystring: RotateSecretQuery,
        response: { 200: CreatedWebhook, ...errors(400, 401, 404) },
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
        summary:
          'Delete a webhook: no more deliveries (pending ones are dropped), and its delivery log goes too',
        params: WebhookParams,
        response: { 204: Type.Null({ description: 'deleted' }), ...errors(400, 401, 404) },
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
        summary:
          'Delivery log of a webhook, newest first: status, attempts, last HTTP status and error',
        params: WebhookParams,
        querystring: PageQuery,
        response: { 200: DeliveryList, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const page = await webhooks.deliveries(request.tenant.id, request.params.id, request.query);
      return { items: page.items.map(deliveryView), nextCursor: page.nextCursor };
    },
  );
};

export default webhooksRoutes;
