/**
 * The one place where errors become HTTP responses: stable codes, statuses, and messages that
 * say what to fix. 5xx messages are hidden from clients and logged with the request.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { EngineError, SpecError } from '../core/index.js';
import { ServiceError, type ServiceErrorCode } from '../services/errors.js';
import type { ErrorCode } from './schemas.js';
import { describeValidationError } from './validation.js';

const SERVICE_STATUS: Record<ServiceErrorCode, number> = {
  UNAUTHORIZED: 401,
  JOB_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  ARTIFACT_NOT_READY: 404,
  MASK_NOT_AVAILABLE: 404,
  JOB_NOT_CANCELLABLE: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  INVALID_CURSOR: 400,
  QUEUE_UNAVAILABLE: 503,
  DATASET_NOT_FOUND: 404,
  DATASET_IN_USE: 409,
  INVALID_DATASET: 422,
  UNSUPPORTED_DATASET_FORMAT: 415,
  DATASET_TOO_LARGE: 413,
  UPLOAD_INCOMPLETE: 400,
};

/** Fastify's own client errors, renamed into our codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

const FASTIFY_MESSAGES: Partial<Record<ErrorCode, string>> = {
  INVALID_JSON: 'the request body is not valid JSON',
  UNSUPPORTED_MEDIA_TYPE: 'send the body as JSON with "Content-Type: application/json"',
};

export function body(code: string, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

export function installErrorHandlers(app: FastifyInstance, opts: { bodyLimit: number }): void {
  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    if (err.validation) {
      const part = err.validationContext ?? 'body';
      const { field, message } = describeValidationError(err.validation as never, part);
      return reply.code(400).send(body(part === 'body' ? 'INVALID_SPEC' : 'INVALID_REQUEST', message, field));
    }
    if (err instanceof SpecError) return reply.code(400).send(body('INVALID_SPEC', err.message, err.field));
    if (err instanceof ServiceError) {
      // Refused before the body was read: close, or the client would go on sending all of it.
      if (err.code === 'DATASET_TOO_LARGE') reply.header('connection', 'close');
      return reply.code(SERVICE_STATUS[err.code]).send(body(err.code, err.message));
    }
    if (err.code && FASTIFY_CODES[err.code]) {
      const code = FASTIFY_CODES[err.code];
      const message =
        code === 'PAYLOAD_TOO_LARGE' ? `the request body is larger than ${opts.bodyLimit} bytes` : (FASTIFY_MESSAGES[code] ?? err.message);
      return reply.code(err.statusCode ?? 400).send(body(code, message));
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      return reply.code(status).send(body(status === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', err.message));
    }
    request.log.error({ err, code: err instanceof EngineError ? err.code : err.code }, 'request failed');
    return reply.code(500).send(body('INTERNAL', 'internal error; it has been logged (retry, and report it if it persists)'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(body('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`)),
  );
}
