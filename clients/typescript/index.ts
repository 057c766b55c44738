/**
 * A typed client for the Retain API: openapi-fetch over the types that openapi-typescript
 * generates from openapi/openapi.json (schema.ts; `npm run client:generate` after
 * `npm run openapi:generate`). Paths, parameters, bodies and answers are checked by the compiler:
 *
 *   const retain = createRetainClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: KEY });
 *   const { data: job, error } = await retain.POST('/v1/jobs', { body: { preset: 'split-mnist' } });
 *   // error: { error: { code, message, field? } } with a documented code when it failed
 *
 * Binary downloads (masks, model weights) take `parseAs: 'arrayBuffer'`.
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

export type RetainClient = Client<paths>;
export type Job = components['schemas']['Job'];
export type ApiKey = components['schemas']['ApiKey'];
export type Dataset = components['schemas']['Dataset'];
export type Webhook = components['schemas']['Webhook'];
/** The body of every error answer. */
export type ApiError = components['schemas']['Error'];
export type ErrorCode = ApiError['error']['code'];

export interface RetainClientOptions extends ClientOptions {
  /** The API's origin, e.g. http://127.0.0.1:3000 (paths start with /v1). */
  baseUrl: string;
  /** Sent as "Authorization: Bearer <apiKey>" on every request (the health routes ignore it). */
  apiKey?: string;
}

export function createRetainClient({ apiKey, ...options }: RetainClientOptions): RetainClient {
  const client = createClient<paths>(options);
  if (apiKey) {
    client.use({
      onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${apiKey}`);
        return request;
      },
    });
  }
  return client;
}
