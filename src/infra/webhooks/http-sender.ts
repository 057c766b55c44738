/**
 * Sends webhook requests with node:http(s): the host is resolved and checked by the address
 * policy, and the connection goes to that checked address (the `lookup` below answers with it),
 * so nothing between the check and the connection can point it elsewhere. TLS still verifies the
 * certificate against the host name. Redirects are not followed (a 3xx is a failed attempt), and
 * the whole exchange has one deadline.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { WebhookSender } from '../../services/ports.js';
import type { WebhookAddressPolicy } from './address-policy.js';

export const USER_AGENT = 'Retain-Webhooks/1';

export class HttpWebhookSender implements WebhookSender {
  constructor(
    private readonly policy: WebhookAddressPolicy,
    private readonly timeoutMs: number,
  ) {}

  async post(
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number }> {
    const target = new URL(url);
    const { address, family } = await this.policy.resolve(target);
    const pinned: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all)
        (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [
          { address, family },
        ]);
      else callback(null, address, family);
    };
    const send = target.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = send(target, {
        method: 'POST',
        lookup: pinned,
        // One connection per attempt: a kept-alive socket could outlive a change of the host's address.
        agent: false,
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': USER_AGENT,
        },
      });
      req.on('error', (err: Error & { code?: string }) =>
        reject(
          err.name === 'AbortError' || err.code === 'ABORT_ERR'
            ? Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), {
                code: 'ETIMEDOUT',
              })
            : err,
        ),
      );
      req.on('response', (res) => {
        // The status is the answer. The body is not needed: it is read and dropped (until the same
        // deadline at most) so that the connection closes cleanly.
        resolve({ status: res.statusCode ?? 0 });
        res.on('error', () => {});
        res.resume();
      });
      req.end(body);
    });
  }
}
