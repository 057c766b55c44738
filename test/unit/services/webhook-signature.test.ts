/** Webhook signatures: the Standard Webhooks test vector, and the example receiver's verification. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyWebhook, WebhookVerificationError } from '../../../examples/webhook-receiver.js';
import {
  newWebhookSecret,
  signWebhook,
  webhookHeaders,
} from '../../../src/services/webhooks/signature.js';

describe('webhook signatures', () => {
  it('reproduce the Standard Webhooks test vector', () => {
    // From the specification's reference implementations (standard-webhooks/standard-webhooks).
    const signature = signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('are verified by the documented procedure (examples/webhook-receiver.ts), which refuses anything altered', () => {
    const secret = newWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({
      type: 'job.succeeded',
      timestamp: '2026-12-01T00:00:00.000Z',
      data: { jobId: 'j' },
    });
    const now = 1_800_000_000;
    const headers = webhookHeaders([secret], 'd1', now, body);
    assert.equal(
      verifyWebhook(secret, headers, body, { nowSeconds: now + 10 }).type,
      'job.succeeded',
    );
    // A receiver that rotates secrets may list several signatures; one match is enough.
    assert.ok(
      verifyWebhook(
        secret,
        { ...headers, 'webhook-signature': `v1,bm9wZQ== ${headers['webhook-signature']}` },
        body,
        { nowSeconds: now },
      ),
    );
    const refused: [string, Record<string, string>, string, number][] = [
      ['altered body', headers, body.replace('j', 'k'), now],
      ['other secret', webhookHeaders([newWebhookSecret()], 'd1', now, body), body, now],
      ['other id', { ...headers, 'webhook-id': 'd2' }, body, now],
      ['replayed later', headers, body, now + 301],
      ['no signature', { ...headers, 'webhook-signature': '' }, body, now],
      [
        'unknown version',
        { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') },
        body,
        now,
      ],
    ];
    for (const [what, h, b, at] of refused) {
      assert.throws(
        () => verifyWebhook(secret, h, b, { nowSeconds: at }),
        WebhookVerificationError,
        what,
      );
    }
  });
});
