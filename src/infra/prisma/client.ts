/** The one way a process gets a PrismaClient: through the pg driver adapter (no engine binary). */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client.js';

export type Db = PrismaClient;

export interface DatabaseOptions {
  url: string;
  /** Postgres schema: search_path, so raw SQL in repositories resolves like generated queries. */
  schema: string;
  poolSize?: number;
}

/**
 * A node-postgres pool for `opts`. Give it to createPrismaClient to share it: repositories use it
 * directly where Prisma's query path costs too much (the per-task checkpoint write).
 */
export function createPgPool(opts: DatabaseOptions): pg.Pool {
  return new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, options: `-c search_path="${opts.schema}"` });
}

/** A PrismaClient on `opts.pool` (the caller ends it) or on a pool of its own. */
export function createPrismaClient(opts: DatabaseOptions & { pool?: pg.Pool }): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(opts.pool ?? createPgPool(opts), { schema: opts.schema }) });
}
