/**
 * The one place where errors become HTTP responses: stable codes, statuses, and messages that
 * say what to fix. 5xx messages are hidden from clients and logged with the request.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import { CodedError, SpecError } from '../core/index.js';
import { ServiceError } from '../services/errors.js';
import { ERROR_TABLE, type ErrorCode } from './error-codes.js';
import { isDatabaseUnavailable } from './unavailable.js';
import { describeValidationError } from './validation.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Code of a body validation error on this route (default INVALID_SPEC: most bodies are job specs). */
    bodyErrorCode?: ErrorCode;
  }
}

/** Fastify's own client errors, renamed into our codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

const FASTIFY_MESSAGES: Partial<Record<ErrorCode, string>> = {
  INVALID_JSON: 'the request body is not valid JSON',
  UNSUPPORTED_MEDIA_TYPE: 'send the body as JSON with "Content-Type: application/json"',
  // Fastify's own message quotes the whole path back.
  URI_TOO_LONG:
    'a path segment is longer than 100 characters; ids and task numbers are far shorter',
};

/** A client error found by the HTTP layer itself (not by validation, the engine or a service). */
export class RequestError extends CodedError<ErrorCode> {
  constructor(
    code: ErrorCode,
    message: string,
    readonly statusCode = ERROR_TABLE[code].status,
  ) {
    super(code, message);
  }
}

export function body(code: ErrorCode, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

type ErrorBody = ReturnType<typeof body>;

/** Seconds a client should wait before retrying while the database is unreachable. */
export const RETRY_AFTER_S = 5;
const DATABASE_UNAVAILABLE = {
  status: 503,
  body: body(
    'DATABASE_UNAVAILABLE',
    `the database is unreachable; nothing was changed, retry in ${RETRY_AFTER_S} s`,
  ),
  retryAfter: RETRY_AFTER_S,
};

const INTERNAL = {
  status: 500,
  body: body(
    'INTERNAL',
    'internal error; it has been logged (retry, and report it if it persists)',
  ),
};

/** Status and body for an error. Only our own messages and Fastify's reports on the request reach clients. */
function describe(
  err: FastifyError & { validationContext?: string },
  opts: { bodyLimit: number; bodyErrorCode: ErrorCode },
): { status: number; body: ErrorBody; retryAfter?: number } {
  if (err.validation) {
    const part = err.validationContext ?? 'body';
    const { field, message } = describeValidationError(err.validation as never, part);
    return {
      status: 400,
      body: body(part === 'body' ? opts.bodyErrorCode : 'INVALID_REQUEST', message, field),
    };
  }
  if (err instanceof SpecError)
    return { status: 400, body: body('INVALID_SPEC', err.message, err.field) };
  if (err instanceof ServiceError)
    return { status: ERROR_TABLE[err.code].status, body: body(err.code, err.message) };
  if (err instanceof RequestError)
    return { status: err.statusCode, body: body(err.code, err.message) };
  if (err.code && FASTIFY_CODES[err.code]) {
    const code = FASTIFY_CODES[err.code];
    const message =
      code === 'PAYLOAD_TOO_LARGE'
        ? `the request body is larger than ${opts.bodyLimit} bytes`
        : (FASTIFY_MESSAGES[code] ?? err.message);
    return { status: ERROR_TABLE[code].status, body: body(code, message) };
  }
  const status = err.statusCode ?? 500;
  if (status >= 500 && isDatabaseUnavailable(err)) return DATABASE_UNAVAILABLE;
  if (status >= 500) return INTERNAL;
  // A dependency's 4xx (a static file server, say) may word its message for its own logs.
  const message = err.code?.startsWith('FST_')
    ? err.message
    : (STATUS_CODES[status] ?? 'bad request');
  return { status, body: body(status === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', message) };
}

/**
 * The error handler; also Fastify's `frameworkErrors`, which it calls for a URL it cannot route
 * (bad percent-encoding).
 */
export function errorHandler(opts: { bodyLimit: number }) {
  return (
    err: FastifyError & { validationContext?: string },
    request: FastifyRequest,
    reply: FastifyReply,
  ) => {
    let answer: { status: number; body: ErrorBody; retryAfter?: number };
    try {
      // Most bodies are job specs; a route whose body is something else says so in its config.
      answer = describe(err, {
        ...opts,
        bodyErrorCode: request.routeOptions?.config?.bodyErrorCode ?? 'INVALID_SPEC',
      });
    } catch (failure) {
      // E.g. a value too deep or circular to print: Fastify would answer in its own shape, with the raw message.
      request.log.error({ err }, 'request failed');
      request.log.error({ err: failure }, 'describing the error failed');
      return reply.code(500).send(INTERNAL.body);
    }
    if (answer.status >= 500) {
      // Client messages of 5xx are ours; the cause (driver, host, stack) is only logged.
      request.log[err instanceof ServiceError ? 'warn' : 'error'](
        { err, code: err.code },
        'request failed',
      );
    }
    if (answer.retryAfter) reply.header('retry-after', String(answer.retryAfter));
    // An upload refused before its body was read: close, or the client would go on sending all of it.
    if (err instanceof ServiceError && err.code === 'DATASET_TOO_LARGE')
      reply.header('connection', 'close');
    return reply.code(answer.status).send(answer.body);
  };
}

export function installErrorHandlers(app: FastifyInstance, opts: { bodyLimit: number }): void {
  app.setErrorHandler(errorHandler(opts));

  app.setNotFoundHandler((request, reply) => {
    // Name the path only when it is short: a 10 KB path is not worth sending back.
    const path = request.url.split('?')[0];
    const route =
      path.length <= MAX_ECHOED_PATH
        ? `${request.method} ${path}`
        : `for this ${request.method} request`;
    return reply.code(404).send(body('NOT_FOUND', `no route ${route}; see /docs for the API`));
  });
}

const MAX_ECHOED_PATH = 100;

/**
 * Answers requests Node's HTTP parser refuses before Fastify sees them (headers too large, a
 * malformed request line, a request that took too long) in the API's error shape, without a body
 * for HEAD. Fastify's default writes its own shape.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['HEADERS_TOO_LARGE', 'the request headers are larger than the server accepts (16 KiB)']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['REQUEST_TIMEOUT', 'the request did not arrive in time; send it again']
        : ['INVALID_REQUEST', 'the request is not valid HTTP/1.1'];
  const { status } = ERROR_TABLE[code];
  // At run time rawPacket is the Buffer Node's parser saw (Fastify's typings describe its JSON form).
  const raw = err.rawPacket as unknown;
  const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
  const payload = head ? '' : JSON.stringify(body(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
  );
}
