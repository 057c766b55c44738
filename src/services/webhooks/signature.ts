/**
 * Signing as the Standard Webhooks specification defines it (https://www.standardwebhooks.com):
 * the secret is `whsec_` + base64 of the key bytes; `webhook-signature` is `v1,` + base64 of
 * HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"). Receivers verify with any Standard
 * Webhooks library or the few lines in examples/webhook-receiver.ts.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** Key bytes of a new secret (the specification asks for 24 to 64). */
const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    'base64',
  );
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * The three headers of a delivery attempt; `timestamp` in seconds since the epoch, fresh for every
 * attempt. With several secrets (during a rotation) the signature header holds one signature per
 * secret, separated by spaces, as the specification allows; a receiver accepts any that verifies.
 */
export function webhookHeaders(
  secrets: string[],
  id: string,
  timestamp: number,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}
