/**
 * Every error code the API answers with, its HTTP status, what it means and an example message:
 * the one table the error handler maps statuses from and the OpenAPI document describes errors
 * from (per route, `errors()` in schemas.ts). A service code without an entry does not compile.
 */
import type { ServiceErrorCode } from '../services/errors.js';

/** Codes the HTTP layer answers with itself: validation, Fastify's own refusals, transport, 5xx. */
type HttpErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_REQUEST'
  | 'INVALID_JSON'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RATE_LIMITED'
  | 'DATABASE_UNAVAILABLE'
  | 'INTERNAL';

export type ErrorCode = ServiceErrorCode | HttpErrorCode;

export interface ErrorCodeInfo {
  /** The HTTP status this code is answered with. */
  status: number;
  /** When it happens, for the reference. */
  meaning: string;
  /** A message as the API words it (ids are made up). */
  example: string;
  /** The example's `field`, for codes that name one. */
  field?: string;
}

const JOB = '0b5e8f0e-3c1a-4d7b-9a57-2f4c6e1d8a90';
const DATASET = '5d2b7c1e-8f3a-4e6b-b1c9-7a0d2e4f6b38';

export const ERROR_TABLE: Record<ErrorCode, ErrorCodeInfo> = {
  INVALID_SPEC: {
    status: 400,
    meaning:
      'the job spec (or another JSON body) is not valid: a wrong type, a value out of range, an unknown field, a combination the method cannot train; `field` names it',
    example: 'regularization.sparsity: must be a number between 0 and 100 (got 120)',
    field: 'regularization.sparsity',
  },
  INVALID_REQUEST: {
    status: 400,
    meaning:
      'a path, query or header parameter is not valid (`field` names it), or the request is not valid HTTP',
    example: 'path parameter id: must be a UUID',
    field: 'id',
  },
  INVALID_JSON: {
    status: 400,
    meaning: 'the body is not JSON, or nests deeper than 64 levels',
    example: 'the request body is not valid JSON',
  },
  INVALID_CURSOR: {
    status: 400,
    meaning: 'a `cursor` that no page of this list returned',
    example: 'cursor: not a cursor returned by this API (use nextCursor from the previous page)',
  },
  INVALID_INPUT: {
    status: 400,
    meaning:
      'input that does not fit: prediction inputs of the wrong length, an image of the wrong size, text that cannot be stored',
    example: `job ${JOB} does not train on images; send {"inputs": [[...]]} as JSON`,
  },
  INVALID_EVENT_ID: {
    status: 400,
    meaning: 'a Last-Event-ID that is no event of the job',
    example: `Last-Event-ID 90 is beyond the last event of job ${JOB} (57); send an id this stream sent, or none to start from the beginning`,
  },
  INVALID_WEBHOOK_URL: {
    status: 400,
    meaning:
      'a webhook URL that is malformed, not http(s), or resolves to an address deliveries may not go to',
    example: 'url: must be http or https (got ftp)',
  },
  UPLOAD_INCOMPLETE: {
    status: 400,
    meaning: 'the upload ended before its Content-Length, or the connection broke',
    example: 'the upload did not arrive completely (1048576 bytes received); send it again',
  },
  UNAUTHORIZED: {
    status: 401,
    meaning: 'no API key, or one that is not valid or was revoked',
    example: 'send your API key as "Authorization: Bearer <key>"',
  },
  NOT_FOUND: {
    status: 404,
    meaning: 'no such route',
    example: 'no route GET /v1/job; see /docs for the API',
  },
  JOB_NOT_FOUND: {
    status: 404,
    meaning: "no such job (another tenant's jobs do not exist for you)",
    example: `job ${JOB} does not exist`,
  },
  TASK_NOT_FOUND: {
    status: 404,
    meaning: 'the job has no task of this number',
    example: `task 7 does not exist; job ${JOB} has tasks 0..4`,
  },
  ARTIFACT_NOT_READY: {
    status: 404,
    meaning: 'the task has not been trained yet',
    example: `task 3 of job ${JOB} has not been trained yet (2 of 5 done)`,
  },
  MASK_NOT_AVAILABLE: {
    status: 404,
    meaning: 'the method learns no masks (hnet, finetune)',
    example:
      'method "hnet" learns no masks; download the model instead (.../tasks/0/model/model.json)',
  },
  FECAM_NOT_AVAILABLE: {
    status: 404,
    meaning:
      'the job keeps no FeCAM statistics (evaluation.taskInference is "entropy" or "none", or its method or network has none)',
    example: `job ${JOB} keeps no FeCAM statistics (its spec's evaluation.taskInference is "entropy", or its method or network has none; see docs/job-spec.md)`,
  },
  MODEL_NOT_AVAILABLE: {
    status: 404,
    meaning:
      'the target network has no exact TF.js LayersModel (ResNet: batch statistics); the message says why',
    example: `task 0 of job ${JOB} has no TF.js model: ResNet normalises every batch with its own statistics (as the reference does, in training and evaluation); a TF.js LayersModel's BatchNormalization uses stored moving statistics in predict() and no built-in layer reduces over the batch, so no LayersModel predicts what the engine computes`,
  },
  DATASET_NOT_FOUND: {
    status: 404,
    meaning: 'no such data set',
    example: `data set ${DATASET} does not exist`,
  },
  API_KEY_NOT_FOUND: {
    status: 404,
    meaning: "no API key with this id belongs to the caller's tenant",
    example: 'you have no API key 8c1f4b2a-6d3e-4f5a-9b7c-0e1d2f3a4b5c',
  },
  WEBHOOK_NOT_FOUND: {
    status: 404,
    meaning: 'no such webhook',
    example: 'webhook 2f6a9c3e-1b4d-4e8f-a7c5-3d9b0e2f1a6c does not exist',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    meaning: 'the request did not arrive in time',
    example: 'the request did not arrive in time; send it again',
  },
  JOB_NOT_CANCELLABLE: {
    status: 409,
    meaning: 'the job has already ended',
    example: `job ${JOB} already succeeded; only queued or running jobs can be cancelled`,
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    meaning: 'the Idempotency-Key was used before with another request',
    example: `Idempotency-Key was already used for job ${JOB} with a different request body; use a new key for a new job`,
  },
  DATASET_IN_USE: {
    status: 409,
    meaning: 'a queued or running job trains on the data set',
    example: `data set ${DATASET} is used by queued or running job(s) ${JOB}; cancel them or wait until they end`,
  },
  CONTINUE_FROM_NOT_SUCCEEDED: {
    status: 409,
    meaning: 'continueFrom names a job that has not succeeded',
    example: `continueFrom: job ${JOB} is running; only a succeeded job can be continued (wait until it succeeds)`,
  },
  CONTINUE_FROM_CHECKPOINT_REMOVED: {
    status: 409,
    meaning: 'continueFrom names a job whose checkpoint retention removed',
    example: `continueFrom: the checkpoint of job ${JOB} was removed on 2026-12-01T00:00:00.000Z (finished jobs keep theirs for a limited time); its results, masks and models remain, but it can no longer be continued: submit one job of all its tasks and the new ones instead`,
  },
  WEBHOOK_LIMIT_REACHED: {
    status: 409,
    meaning: 'the tenant has as many webhooks as allowed',
    example:
      'a tenant can have at most 20 webhooks; delete one first (GET /v1/webhooks lists them)',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning: 'the body is over the API body limit (API_RATE_BODY_LIMIT)',
    example: 'the request body is larger than 1048576 bytes',
  },
  DATASET_TOO_LARGE: {
    status: 413,
    meaning: 'the upload, or what it expands to, is over the configured limit',
    example: 'the upload is larger than the limit of 2147483648 bytes (DATASET_MAX_UPLOAD_BYTES)',
  },
  URI_TOO_LONG: {
    status: 414,
    meaning: 'a path segment is longer than 100 characters',
    example: 'a path segment is longer than 100 characters; ids and task numbers are far shorter',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: 'a body that is not sent as JSON where JSON is expected',
    example: 'send the body as JSON with "Content-Type: application/json"',
  },
  UNSUPPORTED_DATASET_FORMAT: {
    status: 415,
    meaning: 'the upload is none of the supported formats, or not the one declared',
    example:
      'send the file itself as the request body, not a multipart form: curl --data-binary @FILE -H "Content-Type: application/octet-stream"',
  },
  INVALID_DATASET: {
    status: 422,
    meaning:
      'the upload is not a data set that can be trained on: undecodable, inconsistent, too few classes',
    example: '"train/cat/003.txt" is not a PNG or JPEG image',
  },
  TOO_MANY_ACTIVE_JOBS: {
    status: 429,
    meaning: 'the tenant has MAX_ACTIVE_JOBS_PER_TENANT queued plus running jobs',
    example:
      'you have 100 queued or running jobs, the most allowed; submit again when one has finished (or cancel one)',
  },
  RATE_LIMITED: {
    status: 429,
    meaning: 'more than RATE_LIMIT_MAX requests per window with this key; see Retry-After',
    example: 'more than 600 requests in 1 minute with this API key; retry in 12 s',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    meaning: 'the request headers are over 16 KiB',
    example: 'the request headers are larger than the server accepts (16 KiB)',
  },
  INTERNAL: {
    status: 500,
    meaning: 'a fault of ours; the API log has the cause',
    example: 'internal error; it has been logged (retry, and report it if it persists)',
  },
  QUEUE_UNAVAILABLE: {
    status: 503,
    meaning: 'the job queue (Redis) is unreachable; nothing was stored',
    example: 'the job queue is unreachable; nothing was stored, retry later',
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    meaning: 'the database is unreachable; nothing was changed; see Retry-After',
    example: 'the database is unreachable; nothing was changed, retry in 5 s',
  },
};

export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];
