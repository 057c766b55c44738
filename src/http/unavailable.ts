/**
 * Whether an error means the database cannot be reached (down, restarting, network cut) rather
 * than a fault in the request or our code: such requests answer 503 with Retry-After, and the
 * service recovers by itself when the database is back. Errors arrive from node-postgres
 * directly or wrapped by Prisma's adapter, so the whole `cause` chain is looked at.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/**
 * SQLSTATE class 08 (connection exception) and 57P01-57P03 (shutdown, crash, cannot connect now);
 * Prisma's P1001/P1002/P1008/P1017.
 */
const DATABASE_CODE = /^(08\w{3}|57P0[123]|P100[128]|P1017)$/;
const MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Can't reach database server|the database system is (starting up|shutting down)/i;

export function isDatabaseUnavailable(err: unknown): boolean {
  let e = err as
    | {
        code?: unknown;
        message?: unknown;
        cause?: unknown;
        originalCode?: unknown;
        originalMessage?: unknown;
      }
    | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    for (const code of [e.code, e.originalCode]) {
      if (typeof code === 'string' && (NETWORK_CODES.has(code) || DATABASE_CODE.test(code)))
        return true;
    }
    for (const message of [e.message, e.originalMessage]) {
      if (typeof message === 'string' && MESSAGE.test(message)) return true;
    }
    e = e.cause as typeof e;
  }
  return false;
}
