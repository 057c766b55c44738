/**
 * Webhooks of the API: register (the URL checked, a signing secret made and shown once), list,
 * read, delete, and the delivery log. Every call is scoped to the caller's tenant; another
 * tenant's webhook is "not found". Deliveries are created by Postgres with each event and sent by
 * the webhook worker (deliver-webhook.ts).
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../errors.js';
import { decodeCursor, page } from '../pagination.js';
import {
  WEBHOOK_EVENT_TYPES,
  type WebhookDeliveryRecord,
  type WebhookEventType,
  type WebhookRecord,
  type WebhookRepository,
  type WebhookTargets,
} from '../ports.js';
import { newWebhookSecret } from './signature.js';

/** Webhooks per tenant: each one multiplies the deliveries of every event. */
export const MAX_WEBHOOKS_PER_TENANT = 20;

/** How long a rotated-out secret keeps signing deliveries unless the request says otherwise. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 3600;
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600;

export interface NewWebhookInput {
  url: string;
  /** Default: every webhook event type. */
  events?: WebhookEventType[];
}

/** What a URL must look like before its host is even resolved. */
function checkUrlForm(raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ServiceError(
      'INVALID_WEBHOOK_URL',
      `url: not an absolute URL (got ${JSON.stringify(raw.slice(0, 100))})`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ServiceError(
      'INVALID_WEBHOOK_URL',
      `url: must be http or https (got ${url.protocol.slice(0, -1)})`,
    );
  }
  if (url.username || url.password)
    throw new ServiceError('INVALID_WEBHOOK_URL', 'url: must not contain a user name or password');
  if (url.hash) throw new ServiceError('INVALID_WEBHOOK_URL', 'url: must not contain a #fragment');
}

export class WebhookService {
  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly targets: WebhookTargets,
  ) {}

  /** Registers a webhook; the secret is returned here only. */
  async create(
    tenantId: string,
    input: NewWebhookInput,
  ): Promise<{ webhook: WebhookRecord; secret: string }> {
    checkUrlForm(input.url);
    await this.targets.check(input.url);
    if ((await this.webhooks.count(tenantId)) >= MAX_WEBHOOKS_PER_TENANT) {
      throw new ServiceError(
        'WEBHOOK_LIMIT_REACHED',
        `a tenant can have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first (GET /v1/webhooks lists them)`,
      );
    }
    const events = input.events ?? [...WEBHOOK_EVENT_TYPES];
    const secret = newWebhookSecret();
    const webhook = await this.webhooks.create({
      id: randomUUID(),
      tenantId,
      url: input.url,
      events: [...new Set(events)],
      secret,
    });
    return { webhook, secret };
  }

  async list(tenantId: string, opts: { limit: number; cursor?: string }) {
    const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    return page(await this.webhooks.list(tenantId, { limit: opts.limit + 1, after }), opts.limit);
  }

  async get(tenantId: string, id: string): Promise<WebhookRecord> {
    const webhook = await this.webhooks.get(tenantId, id);
    if (!webhook) throw new ServiceError('WEBHOOK_NOT_FOUND', `webhook ${id} does not exist`);
    return webhook;
  }

  /**
   * Gives the webhook a new secret, returned here only. The old one keeps signing deliveries (a
   * second signature in the same header) for `overlapSeconds`, so a receiver can switch to the
   * new secret without refusing a delivery; 0 retires it at once. A rotation during an overlap
   * retires the secret before the old one.
   */
  async rotateSecret(
    tenantId: string,
    id: string,
    overlapSeconds = DEFAULT_SECRET_OVERLAP_SECONDS,
  ): Promise<{ webhook: WebhookRecord; secret: string }> {
    const secret = newWebhookSecret();
    const expires = overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null;
    const webhook = await this.webhooks.rotateSecret(tenantId, id, secret, expires);
    if (!webhook) throw new ServiceError('WEBHOOK_NOT_FOUND', `webhook ${id} does not exist`);
    return { webhook, secret };
  }

  /** Stops deliveries (pending ones are dropped) and deletes the delivery log. */
  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.webhooks.delete(tenantId, id)))
      throw new ServiceError('WEBHOOK_NOT_FOUND', `webhook ${id} does not exist`);
  }

  async deliveries(
    tenantId: string,
    id: string,
    opts: { limit: number; cursor?: string },
  ): Promise<{ items: WebhookDeliveryRecord[]; nextCursor: string | null }> {
    const webhook = await this.get(tenantId, id);
    const after = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    return page(
      await this.webhooks.deliveries(webhook.id, { limit: opts.limit + 1, after }),
      opts.limit,
    );
  }
}
