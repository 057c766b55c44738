/**
 * API keys: random 32-byte secrets shown once; only their SHA-256 is stored. Lookups are cached
 * briefly so that status polling does not cost a database round trip per request (a revoked
 * key stops working within `cacheMs`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ServiceError } from '../errors.js';
import type { ApiKeyRepository, Tenant } from '../ports.js';

export const KEY_PREFIX = 'rk_';

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export class ApiKeyService {
  private readonly cache = new Map<string, { tenant: Tenant | null; until: number }>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly cacheMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates the tenant if needed and a new key for it; the plain key is returned only here. */
  async create(tenantName: string): Promise<{ tenant: Tenant; key: string }> {
    const tenant = await this.keys.createTenantIfMissing(tenantName);
    const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    await this.keys.createKey(tenant.id, key.slice(0, 10), hashKey(key));
    return { tenant, key };
  }

  /** The tenant of a bearer key; throws UNAUTHORIZED for a missing, malformed or unknown key. */
  async authenticate(authorization: string | undefined): Promise<Tenant> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new ServiceError('UNAUTHORIZED', 'send your API key as "Authorization: Bearer <key>"');
    const hash = hashKey(match[1]);
    const now = this.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.until < now) {
      entry = { tenant: await this.keys.findTenantByKeyHash(hash), until: now + this.cacheMs };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.tenant) throw new ServiceError('UNAUTHORIZED', 'the API key is not valid (create one with `npm run apikey -- create --tenant NAME`)');
    return entry.tenant;
  }
}
