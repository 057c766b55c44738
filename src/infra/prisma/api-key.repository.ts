import type { PrismaClient } from '../../generated/prisma/client.js';
import type { ApiKeyRepository, Tenant } from '../../services/ports.js';

export class PrismaApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: PrismaClient) {}

  async findTenantByKeyHash(hash: string): Promise<Tenant | null> {
    const key = await this.db.apiKey.findUnique({ where: { hash }, include: { tenant: true } });
    if (!key || key.revokedAt) return null;
    return { id: key.tenant.id, name: key.tenant.name };
  }

  async createTenantIfMissing(name: string): Promise<Tenant> {
    const t = await this.db.tenant.upsert({ where: { name }, create: { name }, update: {} });
    return { id: t.id, name: t.name };
  }

  async createKey(tenantId: string, prefix: string, hash: string): Promise<{ id: string }> {
    const k = await this.db.apiKey.create({ data: { tenantId, prefix, hash } });
    return { id: k.id };
  }
}
