/**
 * Where webhooks may be delivered: only to public addresses. A URL whose host is, or resolves to,
 * a loopback, private, link-local or other non-public address is refused, unless the operator
 * allows its network (WEBHOOK_ALLOWED_NETWORKS, e.g. "127.0.0.1" for tests or "10.0.0.0/8" for
 * receivers inside the deployment). Otherwise a tenant could make the service POST to the
 * database, the cloud metadata endpoint or anything else behind the firewall.
 *
 * The check runs at registration and again at every delivery, and the delivery connects to the
 * very address that was checked (HttpWebhookSender), so a name that resolves to a public address
 * at registration and to a private one later (DNS rebinding) is refused then.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import net from 'node:net';
import { ServiceError } from '../../services/errors.js';
import type { WebhookTargets } from '../../services/ports.js';

/** Addresses that are not the public internet (IANA special-purpose registries). */
const REFUSED: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'], // private
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local (cloud metadata endpoints)
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.168.0.0', 16, 'ipv4'], // private
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'], // unspecified
  ['::1', 128, 'ipv6'], // loopback
  ['64:ff9b::', 96, 'ipv6'], // NAT64: reaches IPv4 addresses
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
];

export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Parses WEBHOOK_ALLOWED_NETWORKS: comma-separated addresses and CIDR networks. Throws on a bad entry. */
export function parseNetworks(list: string): net.BlockList {
  const allowed = new net.BlockList();
  for (const entry of list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [address, prefix] = entry.split('/');
    const family = net.isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    if (!family || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
      throw new Error(
        `WEBHOOK_ALLOWED_NETWORKS: "${entry}" is not an address or a CIDR network (like 10.0.0.0/8 or fd00::/8)`,
      );
    }
    allowed.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return allowed;
}

export class WebhookAddressPolicy implements WebhookTargets {
  private readonly refused = new net.BlockList();

  constructor(
    private readonly allowed: net.BlockList = new net.BlockList(),
    private readonly lookup: Lookup = systemLookup,
  ) {
    for (const [address, bits, type] of REFUSED) this.refused.addSubnet(address, bits, type);
  }

  /** Whether deliveries may go to this IP address. IPv4-mapped IPv6 addresses count as their IPv4 address. */
  allows(address: string): boolean {
    const type = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return this.allowed.check(address, type) || !this.refused.check(address, type);
  }

  async check(url: string): Promise<void> {
    await this.resolve(new URL(url));
  }

  /**
   * The address a delivery to `url` connects to: the host's first address, when every address
   * it resolves to is allowed. Throws INVALID_WEBHOOK_URL otherwise.
   */
  async resolve(url: URL): Promise<{ address: string; family: 4 | 6 }> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: { address: string; family: number }[];
    if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) }];
    else {
      try {
        addresses = await this.lookup(host);
      } catch (err) {
        throw new ServiceError(
          'INVALID_WEBHOOK_URL',
          `url: the host ${host} does not resolve (${(err as { code?: string }).code ?? 'lookup failed'})`,
          { cause: err },
        );
      }
    }
    const refused = addresses.find((a) => !this.allows(a.address));
    if (refused || addresses.length === 0) {
      const what = refused
        ? host === refused.address
          ? `${host} is`
          : `the host ${host} resolves to ${refused.address}, which is`
        : `the host ${host} has`;
      throw new ServiceError(
        'INVALID_WEBHOOK_URL',
        `url: ${what} ${refused ? 'not a public address (loopback, private, link-local and other internal networks are refused)' : 'no address'}`,
      );
    }
    return { address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 };
  }
}
