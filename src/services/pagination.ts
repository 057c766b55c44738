/**
 * Cursor pagination and request hashing shared by the resources (jobs, data sets): newest first,
 * an opaque cursor holding the last item's (createdAt, id).
 */
import { ServiceError } from './errors.js';

export interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.createdAt.toISOString()}|${c.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): Cursor {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(iso ?? '');
  // Dates outside Postgres's timestamp range (a forged cursor) would fail in the query instead.
  const year = createdAt.getUTCFullYear();
  if (
    !id ||
    Number.isNaN(createdAt.getTime()) ||
    year < 1970 ||
    year > 9999 ||
    !/^[0-9a-f-]{36}$/.test(id)
  ) {
    throw new ServiceError(
      'INVALID_CURSOR',
      'cursor: not a cursor returned by this API (use nextCursor from the previous page)',
    );
  }
  return { createdAt, id };
}

/** One page from `rows`, fetched with `limit + 1` so that a next page is known without a count. */
export function page<T extends Cursor>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

/** Keys may be sorted differently by different clients; hash a canonical form. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
