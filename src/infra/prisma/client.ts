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
  /**
   * Postgres ends a transaction left idle this long (and its connection). Training processes set
   * it: one that hangs between two statements of a transaction holds the job's row lock, which
   * the attempt taking the job over would otherwise wait on for as long as the hang lasts.
   */
  idleInTransactionTimeoutMs?: number;
}

/**
 * A node-postgres pool for `opts`. Give it to createPrismaClient to share it: repositories use it
 * directly where Prisma's query path costs too much (the per-task checkpoint write).
 */
export function createPgPool(opts: DatabaseOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    options: `-c search_path="${opts.schema}"`,
    ...(opts.idleInTransactionTimeoutMs
      ? { idle_in_transaction_session_timeout: opts.idleInTransactionTimeoutMs }
      : {}),
  });
  // An idle connection that dies (Postgres restarted) is dropped by the pool and the next query
  // connects again; without a listener its 'error' event would end the process.
  pool.on('error', () => {});
  return pool;
}

/**
 * A client checked out of `pool` for several statements (a transaction). While it is out, the
 * pool does not listen to it: a connection that breaks between two statements emits 'error',
 * which without a listener kills the process (the statement in flight, if any, fails anyway).
 * `release()` destroys a broken connection instead of returning it to the pool.
 */
export async function checkout(
  pool: pg.Pool,
): Promise<{ client: pg.PoolClient; release: () => void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  return {
    client,
    release: () => {
      client.off('error', onError);
      client.release(broken);
    },
  };
}

/**
 * Runs `fn` in one transaction on a client of `pool` (checked out as `checkout` does): COMMIT when
 * it returns, ROLLBACK when it throws or has called `rollBack()` (an answer such as "not found"
 * that must leave nothing behind). The client is released either way.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, rollBack: () => void) => Promise<T>,
): Promise<T> {
  const { client, release } = await checkout(pool);
  try {
    await client.query('BEGIN');
    let rolledBack = false;
    const value = await fn(client, () => {
      rolledBack = true;
    });
    await client.query(rolledBack ? 'ROLLBACK' : 'COMMIT');
    return value;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    release();
  }
}

/** A PrismaClient on `opts.pool` (the caller ends it) or on a pool of its own. */
export function createPrismaClient(opts: DatabaseOptions & { pool?: pg.Pool }): PrismaClient {
  return new PrismaClient({
    adapter: new PrismaPg(opts.pool ?? createPgPool(opts), { schema: opts.schema }),
  });
}
