/**
 * A webhook receiver that verifies Retain's signatures: the Standard Webhooks procedure
 * (https://www.standardwebhooks.com) in a few lines of node:crypto, no dependency. Any Standard
 * Webhooks library (`standardwebhooks` on npm and PyPI, Svix's `svix`) verifies the same headers.
 *
 *   WEBHOOK_SECRET=whsec_... PORT=4000 npx tsx examples/webhook-receiver.ts
 *   # then: POST /v1/webhooks {"url": "https://<this host>:4000/"} with the secret it answered
 *
 * How to verify a delivery:
 *   1. Take the raw request body, exactly as received (do not parse and re-serialise it).
 *   2. Refuse it if `webhook-timestamp` (seconds) is more than 5 minutes from your clock (replays).
 *   3. key = base64-decode(the secret without its "whsec_" prefix);
 *      expected = base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${body}`)).
 *   4. `webhook-signature` is a space-separated list of `v1,<base64>`: accept if one of them equals
 *      expected (compare in constant time).
 *   5. Answer 2xx quickly; anything else (or no answer within 5 s) is retried with backoff, with
 *      the same `webhook-id`: use it to ignore a delivery you already handled.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export interface WebhookMessage {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export class WebhookVerificationError extends Error {}

/** Verifies one delivery and returns its parsed body; throws WebhookVerificationError otherwise. */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  opts: { toleranceSeconds?: number; nowSeconds?: number } = {},
): WebhookMessage {
  const header = (name: string) => {
    const v = headers[name];
    if (typeof v !== 'string' || v === '')
      throw new WebhookVerificationError(`missing ${name} header`);
    return v;
  };
  const id = header('webhook-id');
  const timestamp = header('webhook-timestamp');
  const signatures = header('webhook-signature');
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (
    !/^\d+$/.test(timestamp) ||
    Math.abs(now - Number(timestamp)) > (opts.toleranceSeconds ?? 300)
  ) {
    throw new WebhookVerificationError('webhook-timestamp is missing or too far from now');
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  const match = signatures.split(' ').some((s) => {
    const [version, value] = s.split(',', 2);
    const given = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!match) throw new WebhookVerificationError('no valid signature');
  return JSON.parse(body) as WebhookMessage;
}

/** Reads a request body as text. */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) throw new Error('set WEBHOOK_SECRET to the secret POST /v1/webhooks answered');
  const seen = new Set<string>();
  /** Answers 204 to a verified delivery (printing it once per webhook-id), 400 to anything else. */
  async function receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const message = verifyWebhook(secret!, req.headers, await readBody(req));
      const id = req.headers['webhook-id'] as string;
      if (!seen.has(id)) {
        seen.add(id);
        console.log(`${message.timestamp} ${message.type} ${JSON.stringify(message.data)}`);
      }
      res.writeHead(204).end();
    } catch (err) {
      console.warn(`refused: ${(err as Error).message}`);
      res.writeHead(400).end();
    }
  }
  http
    .createServer((req, res) => void receive(req, res))
    .listen(Number(process.env.PORT ?? 4000), () =>
      console.log(`listening on port ${process.env.PORT ?? 4000}`),
    );
}
