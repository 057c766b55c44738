/** The one way a process gets a PrismaClient: through the pg driver adapter (no engine binary). */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client.js';

export type Db = PrismaClient;

export function createPrismaClient(opts: { url: string; schema: string; poolSize?: number }): PrismaClient {
  // search_path makes raw SQL in repositories resolve to the same schema as generated queries.
  const adapter = new PrismaPg(
    { connectionString: opts.url, max: opts.poolSize ?? 10, options: `-c search_path="${opts.schema}"` },
    { schema: opts.schema },
  );
  return new PrismaClient({ adapter });
}
