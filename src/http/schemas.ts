/** Schemas shared by several resources: the error shape and small helpers. */
import { Type, type TSchema } from '@sinclair/typebox';

export const ERROR_CODES = [
  'INVALID_SPEC',
  'INVALID_REQUEST',
  'INVALID_JSON',
  'INVALID_CURSOR',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'JOB_NOT_FOUND',
  'TASK_NOT_FOUND',
  'ARTIFACT_NOT_READY',
  'MASK_NOT_AVAILABLE',
  'FECAM_NOT_AVAILABLE',
  'MODEL_NOT_AVAILABLE',
  'JOB_NOT_CANCELLABLE',
  'IDEMPOTENCY_KEY_REUSED',
  'PAYLOAD_TOO_LARGE',
  'URI_TOO_LONG',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'UNSUPPORTED_MEDIA_TYPE',
  'QUEUE_UNAVAILABLE',
  'DATABASE_UNAVAILABLE',
  'DATASET_NOT_FOUND',
  'DATASET_IN_USE',
  'CONTINUE_FROM_NOT_SUCCEEDED',
  'INVALID_DATASET',
  'UNSUPPORTED_DATASET_FORMAT',
  'DATASET_TOO_LARGE',
  'UPLOAD_INCOMPLETE',
  'INVALID_INPUT',
  'INVALID_EVENT_ID',
  'WEBHOOK_NOT_FOUND',
  'INVALID_WEBHOOK_URL',
  'WEBHOOK_LIMIT_REACHED',
  'NOT_READY',
  'API_KEY_NOT_FOUND',
  'TOO_MANY_ACTIVE_JOBS',
  'RATE_LIMITED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: `stable error code: ${ERROR_CODES.join(', ')}` }),
      message: Type.String({ description: 'what went wrong and how to fix it' }),
      field: Type.Optional(
        Type.String({ description: 'the offending field (JSON path), when one is to blame' }),
      ),
    }),
  },
  { $id: 'Error', description: 'every error has this shape' },
);

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  description: 'UUID',
});

/** Response entries for the error statuses a route can answer with. */
export function errors(...statuses: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref(ErrorResponse)])) as unknown as Record<
    number,
    typeof ErrorResponse
  >;
}
