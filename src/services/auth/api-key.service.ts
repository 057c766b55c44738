/**
 * API keys: random 32-byte secrets shown once; only their SHA-256 is stored. A tenant names,
 * lists and revokes its keys. Lookups are cached for `cacheMs` so that status polling does not
 * cost a database round trip per request: a revoked key stops working at once in the process
 * that revoked it and within `cacheMs` in every other API process. A key's last use is recorded
 * to the minute, off the request's path.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ServiceError } from '../errors.js';
import { isStorableText } from '../text.js';
import type { ApiKeyRecord, ApiKeyRepository, Tenant } from '../ports.js';

export const KEY_PREFIX = 'rk_';
/** Longest key name. */
export const MAX_KEY_NAME = 100;

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export class ApiKeyService {
  private readonly cache = new Map<
    string,
    { found: { keyId: string; tenant: Tenant } | null; until: number }
  >();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly options: {
      cacheMs?: number;
      now?: () => number;
      onTouchError?: (err: unknown) => void;
    } = {},
  ) {}

  /** Creates the tenant if needed and a new key for it (the CLI); the plain key is returned only here. */
  async create(
    tenantName: string,
    name: string | null = null,
  ): Promise<{ tenant: Tenant; key: string; record: ApiKeyRecord }> {
    const tenant = await this.keys.createTenantIfMissing(tenantName);
    return { tenant, ...(await this.createFor(tenant, name)) };
  }

  /** A new key for `tenant`; the plain key is returned only here. */
  async createFor(
    tenant: Tenant,
    name: string | null,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    if (name !== null && (name.length > MAX_KEY_NAME || !isStorableText(name))) {
      throw new ServiceError(
        'INVALID_INPUT',
        `name: at most ${MAX_KEY_NAME} characters, without NUL bytes or lone surrogates`,
      );
    }
    const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record = await this.keys.createKey(tenant.id, {
      prefix: key.slice(0, 10),
      hash: hashKey(key),
      name,
    });
    return { key, record };
  }

  list(tenant: Tenant): Promise<ApiKeyRecord[]> {
    return this.keys.listKeys(tenant.id);
  }

  /** The tenant named `name`; throws when there is none (the CLI). */
  async tenant(name: string): Promise<Tenant> {
    const tenant = await this.keys.findTenant(name);
    if (!tenant) throw new ServiceError('API_KEY_NOT_FOUND', `there is no tenant "${name}"`);
    return tenant;
  }

  async revoke(tenant: Tenant, keyId: string): Promise<ApiKeyRecord> {
    const record = await this.keys.revokeKey(tenant.id, keyId);
    if (!record) throw new ServiceError('API_KEY_NOT_FOUND', `you have no API key ${keyId}`);
    for (const [hash, entry] of this.cache)
      if (entry.found?.keyId === keyId) this.cache.delete(hash);
    return record;
  }

  /** The tenant of a bearer key; throws UNAUTHORIZED for a missing, malformed, unknown or revoked key. */
  async authenticate(authorization: string | undefined): Promise<Tenant> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match)
      throw new ServiceError('UNAUTHORIZED', 'send your API key as "Authorization: Bearer <key>"');
    const hash = hashKey(match[1]);
    const now = (this.options.now ?? Date.now)();
    let entry = this.cache.get(hash);
    if (!entry || entry.until < now) {
      const found = await this.keys.findByHash(hash);
      if (found)
        this.keys.touchKey(found.keyId).catch((err: unknown) => this.options.onTouchError?.(err));
      entry = { found, until: now + (this.options.cacheMs ?? 2000) };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.found)
      throw new ServiceError(
        'UNAUTHORIZED',
        'the API key is not valid or was revoked (create one with `npm run apikey -- create --tenant NAME`)',
      );
    return entry.found.tenant;
  }
}
