/** Schemas shared by several resources: the error shape and small helpers. */
import { STATUS_CODES } from 'node:http';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ERROR_CODES, ERROR_TABLE, type ErrorCode } from './error-codes.js';

export { ERROR_CODES, type ErrorCode } from './error-codes.js';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.Unsafe<ErrorCode>({
        type: 'string',
        enum: ERROR_CODES,
        description: 'stable error code (the table in the API description says what each means)',
      }),
      message: Type.String({ description: 'what went wrong and how to fix it' }),
      field: Type.Optional(
        Type.String({ description: 'the offending field (JSON path), when one is to blame' }),
      ),
    }),
  },
  { $id: 'Error', description: 'every error has this shape' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  description: 'UUID',
});

/**
 * A query parameter with a default. Clients may leave it out, so it must not be in the object's
 * `required` list (from which @fastify/swagger marks parameters required, and TypeBox leaves a
 * property out of it only when it is Type.Optional). Handlers still see it set: Ajv
 * (`useDefaults`) fills the default in before they run, hence the non-optional static type.
 */
export function WithDefault<T extends TSchema>(schema: T): T {
  if (schema.default === undefined) throw new Error('WithDefault: the schema has no default');
  // Returned as T, the static type stays non-optional (always set, as Ajv guarantees).
  return Type.Optional(schema) as T;
}

/** A success response's schema with the description the document shows for the response. */
export function Described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

/** Errors every authenticated route can answer with, besides its own. */
export const AUTHENTICATED_ERRORS: readonly ErrorCode[] = [
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'DATABASE_UNAVAILABLE',
  'INTERNAL',
];

/** Errors of a route that reads a JSON body (beyond its validation code). */
export const JSON_BODY_ERRORS: readonly ErrorCode[] = [
  'INVALID_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
];

/** An error response of one status as a route schema declares it: the shape, its codes, an example of each. */
export interface ErrorResponseEntry {
  description: string;
  content: {
    'application/json': {
      schema: TSchema;
      examples: Record<string, { summary: string; value: ErrorResponse }>;
    };
  };
}

/**
 * Response entries for the error codes a route answers with, one per status (from ERROR_TABLE),
 * each listing its codes with an example of each. Authenticated routes (the default) also get
 * AUTHENTICATED_ERRORS.
 */
export function errors(
  codes: readonly ErrorCode[],
  { authenticated = true }: { authenticated?: boolean } = {},
): Record<number, ErrorResponseEntry> {
  const all = new Set<ErrorCode>([...codes, ...(authenticated ? AUTHENTICATED_ERRORS : [])]);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of ERROR_CODES.filter((c) => all.has(c))) {
    const { status } = ERROR_TABLE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description:
          `${STATUS_CODES[status]}. \`error.code\` is one of:\n\n` +
          list.map((c) => `- \`${c}\`: ${ERROR_TABLE[c].meaning}`).join('\n'),
        content: {
          'application/json': {
            schema: Type.Ref(ErrorResponse),
            examples: Object.fromEntries(
              list.map((code) => [
                code,
                {
                  summary: ERROR_TABLE[code].meaning,
                  value: { error: errorBody(code) },
                },
              ]),
            ),
          },
        },
      },
    ]),
  );
}

function errorBody(code: ErrorCode): ErrorResponse['error'] {
  const { example, field } = ERROR_TABLE[code];
  return { code, message: example, ...(field ? { field } : {}) };
}

/** The reference table of every error code, as Markdown (the API description carries it). */
export function errorCodeTable(): string {
  return [
    '| code | status | meaning |',
    '| --- | --- | --- |',
    ...ERROR_CODES.map(
      (c) => `| \`${c}\` | ${ERROR_TABLE[c].status} | ${ERROR_TABLE[c].meaning} |`,
    ),
  ].join('\n');
}
