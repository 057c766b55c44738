import type { PrismaClient } from '../../generated/prisma/client.js';
import type { ApiKeyRecord, ApiKeyRepository, Tenant } from '../../services/ports.js';

const record = (k: {
  id: string;
  name: string | null;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}): ApiKeyRecord => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
  revokedAt: k.revokedAt,
});

export class PrismaApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: PrismaClient) {}

  async findByHash(hash: string) {
    const key = await this.db.apiKey.findUnique({ where: { hash }, include: { tenant: true } });
    if (!key || key.revokedAt) return null;
    return { keyId: key.id, tenant: { id: key.tenant.id, name: key.tenant.name } };
  }

  async createTenantIfMissing(name: string): Promise<Tenant> {
    const t = await this.db.tenant.upsert({ where: { name }, create: { name }, update: {} });
    return { id: t.id, name: t.name };
  }

  async findTenant(name: string): Promise<Tenant | null> {
    const t = await this.db.tenant.findUnique({ where: { name } });
    return t ? { id: t.id, name: t.name } : null;
  }

  async createKey(tenantId: string, key: { prefix: string; hash: string; name: string | null }) {
    return record(await this.db.apiKey.create({ data: { tenantId, ...key } }));
  }

  async listKeys(tenantId: string) {
    const keys = await this.db.apiKey.findMany({
      where: { tenantId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    return keys.map(record);
  }

  async revokeKey(tenantId: string, keyId: string) {
    // The first revocation time stays.
    await this.db.apiKey.updateMany({
      where: { id: keyId, tenantId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    const key = await this.db.apiKey.findFirst({ where: { id: keyId, tenantId } });
    return key ? record(key) : null;
  }

  async touchKey(keyId: string): Promise<void> {
    await this.db.$executeRaw`
      UPDATE api_keys SET last_used_at = now()
      WHERE id = ${keyId}::uuid AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`;
  }
}
