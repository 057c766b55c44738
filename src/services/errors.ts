/**
 * The service's error model: every failure a client can cause or see carries a stable `code`.
 * The HTTP layer maps codes to statuses in one place (src/http/error-handler.ts); workers map
 * engine codes to retry decisions. Codes never change meaning; messages say what to fix.
 */
// Straight from the file, not the core's index: the data set thread must not load TF.js for this.
import { CodedError } from '../core/errors.js';

export type ServiceErrorCode =
  | 'UNAUTHORIZED'
  | 'JOB_NOT_FOUND'
  | 'TASK_NOT_FOUND'
  | 'ARTIFACT_NOT_READY'
  | 'MASK_NOT_AVAILABLE'
  /** The job keeps no FeCAM statistics (evaluation.taskInference is not "fecam" or "both"). */
  | 'FECAM_NOT_AVAILABLE'
  /** The job's target network has no exact TF.js LayersModel export (ResNet: batch statistics). */
  | 'MODEL_NOT_AVAILABLE'
  | 'JOB_NOT_CANCELLABLE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'INVALID_CURSOR'
  | 'QUEUE_UNAVAILABLE'
  | 'DATASET_NOT_FOUND'
  | 'DATASET_IN_USE'
  /** continueFrom names a job that has not succeeded (queued, running, failed or cancelled). */
  | 'CONTINUE_FROM_NOT_SUCCEEDED'
  /** continueFrom names a succeeded job whose checkpoint retention removed. */
  | 'CONTINUE_FROM_CHECKPOINT_REMOVED'
  /** The upload is not a data set we can use: undecodable, inconsistent, too few classes... */
  | 'INVALID_DATASET'
  /** The content is none of the supported formats, or not the declared one. */
  | 'UNSUPPORTED_DATASET_FORMAT'
  /** The upload, or what it expands to, is over the configured limit. */
  | 'DATASET_TOO_LARGE'
  /** Input that does not fit: prediction inputs of the wrong length, text that cannot be stored. */
  | 'INVALID_INPUT'
  /** The request body ended early or the connection broke. */
  | 'UPLOAD_INCOMPLETE'
  /** No API key with this id belongs to the caller's tenant. */
  | 'API_KEY_NOT_FOUND'
  /** The tenant already has as many queued and running jobs as allowed (MAX_ACTIVE_JOBS_PER_TENANT). */
  | 'TOO_MANY_ACTIVE_JOBS'
  /** A stream's Last-Event-ID that is no event of the job. */
  | 'INVALID_EVENT_ID'
  | 'WEBHOOK_NOT_FOUND'
  /** A webhook URL that is malformed or resolves to an address deliveries may not go to. */
  | 'INVALID_WEBHOOK_URL'
  | 'WEBHOOK_LIMIT_REACHED';

/** `cause` is for the log (driver messages, hosts); clients see only `message`. */
export class ServiceError extends CodedError<ServiceErrorCode> {}

/**
 * A write of a training attempt, refused because another attempt has taken the job over since
 * (its worker hung past the queue lock and the queue gave the job to another). Nothing was
 * written; the attempt stops without touching the job again.
 */
export class StaleAttemptError extends CodedError<'STALE_ATTEMPT'> {
  constructor(jobId: string, write: string) {
    super(
      'STALE_ATTEMPT',
      `job ${jobId} was taken over by another attempt; this attempt's ${write} was refused`,
    );
  }
}
