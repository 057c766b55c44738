/**
 * Ports: what the use cases need from the outside world. Adapters live in src/infra (Prisma,
 * BullMQ); tests use in-memory fakes. No Prisma, BullMQ or Fastify type crosses these interfaces.
 */
import type {
  BatchNormStats,
  ContinualResult,
  JobSpec,
  LabelledDataset,
  Prediction,
  RawDataset,
  TaskExport,
} from '../core/index.js';
import type { DatasetSummary, DecodeOptions } from './datasets/dataset.types.js';
import type { Cursor } from './pagination.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface JobError {
  code: string;
  message: string;
}

/** Final numbers of a finished job (the accuracy matrix lives in the per-task results). */
export interface JobResult {
  averageAccuracy: number;
  backwardTransfer: number | null;
  forgetting: number | null;
  /**
   * Targets with batch norm: the average accuracy with each task's running statistics (the
   * accuracy matrix's last row evaluated so); null or absent otherwise.
   */
  runningStatsAverageAccuracy?: number | null;
  /** Task inference by lowest entropy; null when not run. */
  taskInference: ContinualResult['taskInference'];
  /** Task inference by FeCAM; null when not run (absent in results stored before it existed). */
  fecamTaskInference?: ContinualResult['fecamTaskInference'];
}

export interface JobRecord {
  id: string;
  tenantId: string;
  name: string | null;
  metadata: Record<string, unknown> | null;
  spec: JobSpec;
  /** SPEC_VERSION of the code that resolved and stored `spec` (checked again before training). */
  specVersion: number;
  status: JobStatus;
  backend: string | null;
  tasksTotal: number;
  iterationsPerTask: number;
  /** Task being trained (0-based), null before the first and after the last. */
  currentTask: number | null;
  /** Iterations done in `currentTask`. */
  iteration: number | null;
  completedTasks: number;
  etaMs: number | null;
  attempts: number;
  error: JobError | null;
  result: JobResult | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  firstIterationAt: Date | null;
  finishedAt: Date | null;
  /** The succeeded job this one continues, or null. */
  continueFrom: string | null;
  /** Tasks taken over from `continueFrom` (trained there, not here); 0 for a job of its own. */
  inheritedTasks: number;
  /** When retention removed the checkpoint of this finished job; it can no longer be continued. */
  checkpointRemovedAt: Date | null;
}

export interface NewJob {
  tenantId: string;
  name: string | null;
  metadata: Record<string, unknown> | null;
  spec: JobSpec;
  /**
   * Iterations per task for progress: the spec's, or planned from the data for a length in epochs
   * (`progressIterations`; without it, planned from the spec alone).
   */
  iterationsPerTask?: number;
  idempotencyKey: string | null;
  requestHash: string | null;
  /**
   * A succeeded job of the same tenant whose tasks this one keeps: its checkpoint, task results,
   * exports and embeddings are taken over by the new job in the insert's transaction, and the job
   * starts with `inheritedTasks` completed. The insert fails with CONTINUE_FROM_NOT_SUCCEEDED when
   * the source is no longer a succeeded job of the tenant by then, and with
   * CONTINUE_FROM_CHECKPOINT_REMOVED when retention removed the source's checkpoint.
   */
  continueFrom?: { jobId: string; inheritedTasks: number } | null;
  /**
   * Most queued plus running jobs the tenant may have with this one (0 or absent: no cap). Checked
   * in the insert's transaction, serialised per tenant, so concurrent submissions cannot pass it;
   * over it the insert fails with TOO_MANY_ACTIVE_JOBS.
   */
  maxActiveJobs?: number;
}

export type JobCursor = Cursor;

export interface TaskResultRecord {
  task: number;
  accuracies: number[];
  /**
   * Targets with batch norm: the row evaluated with each task's running statistics (absent or
   * empty for other targets and for tasks trained before the statistics existed).
   */
  runningStatsAccuracies?: number[];
  durationMs: number;
  msPerIteration: number;
}

export interface CurvePoint {
  /** Opaque position for paging. */
  seq: string;
  task: number;
  iteration: number;
  value: number;
  taskLoss: number | null;
  outputReg: number | null;
  driftReg: number | null;
}

export type CurveKind = 'loss' | 'validation';

/** A task model with its weights in memory (what predictions run). */
export interface ModelArtifact {
  modelJson: Record<string, unknown>;
  weights: Uint8Array;
  weightsFileName: string;
  /** The task's FeCAM statistics file (fecam.safetensors), when the job keeps them. */
  fecam?: Uint8Array | null;
}

/** Bytes kept by the store, read on demand. */
export interface StoredBytes {
  size: number;
  /** The content in pieces; throws (at the latest at the end) when it is not what was written. */
  read(): AsyncIterable<Uint8Array>;
}

/** A task model as stored: model.json, and its weights file read on demand. */
export interface StoredModel {
  modelJson: Record<string, unknown>;
  weights: StoredBytes;
  weightsFileName: string;
}

/** Jobs as the API sees them; every read is scoped to a tenant. */
export interface JobRepository {
  /** Inserts the job with a "queued" event. Returns the existing job when the idempotency key is taken. */
  create(job: NewJob): Promise<{ job: JobRecord; created: boolean; requestHash: string | null }>;
  findByIdempotencyKey(
    tenantId: string,
    key: string,
  ): Promise<{ job: JobRecord; requestHash: string | null } | null>;
  /**
   * Removes the job, every row of it and the bytes no other job points at (a job continuing it
   * keeps what it took over). False when the tenant has no such job.
   */
  delete(tenantId: string, id: string): Promise<boolean>;
  get(tenantId: string, id: string): Promise<JobRecord | null>;
  list(
    tenantId: string,
    opts: { status?: JobStatus; limit: number; after?: JobCursor },
  ): Promise<JobRecord[]>;
  /** Moves a queued or running job to cancelled; returns the job afterwards (null: not found). */
  cancel(tenantId: string, id: string): Promise<JobRecord | null>;
  taskResults(jobId: string): Promise<TaskResultRecord[]>;
  curve(
    jobId: string,
    kind: CurveKind,
    opts: { task?: number; limit: number; afterSeq?: string },
  ): Promise<CurvePoint[]>;
  mask(jobId: string, task: number): Promise<{ found: boolean; mask: StoredBytes | null }>;
  /** The task's model; null when the task has not been trained or its target has no model export. */
  model(jobId: string, task: number): Promise<StoredModel | null>;
  /** The task's FeCAM statistics (a safetensors file, see core/inference/fecam.ts); null when it has none. */
  fecam(jobId: string, task: number): Promise<StoredBytes | null>;
  /** Why a trained task has no model export (its target cannot be a LayersModel), or null. */
  modelUnavailable(jobId: string, task: number): Promise<string | null>;
  /** Which tasks have exports, and a version of each that changes whenever they are rewritten. */
  artifactVersions(jobId: string): Promise<{ task: number; version: string }[]>;
  /** model.json alone (without reading the weights); null as for `model`. */
  modelJson(jobId: string, task: number): Promise<Record<string, unknown> | null>;
  events(jobId: string): Promise<{ status: JobStatus; message: string | null; at: Date }[]>;
  /** Ids of queued or running jobs (any tenant) last updated before `before`, oldest first. */
  unfinished(before: Date, limit: number): Promise<string[]>;
  /** Moves a queued or running job to failed (any tenant); nothing happens to a job in any other state. */
  failUnfinished(id: string, error: JobError): Promise<void>;
  /**
   * Removes the checkpoints of up to `limit` jobs (any tenant) that finished before
   * `finishedBefore`, with their bytes unless another job points at them; results and exports
   * stay. Returns the ids of those jobs (fewer than `limit`: none are left).
   */
  removeCheckpoints(finishedBefore: Date, limit: number): Promise<string[]>;
}

export interface TrainingQueue {
  enqueue(jobId: string): Promise<void>;
  /** Drops a job that no worker holds yet (cancelled before it started); false if it could not. */
  removeIfWaiting(jobId: string): Promise<boolean>;
  /** Whether the queue holds the job in any state (waiting, active, delayed, completed, failed). */
  has(jobId: string): Promise<boolean>;
  /** When the queue gave up on the job (attempts or stalls exhausted): its reason and attempts made; else null. */
  failure(jobId: string): Promise<{ reason: string; attempts: number } | null>;
}

export interface Tenant {
  id: string;
  name: string;
}

/** An API key as its tenant sees it (never the key itself). */
export interface ApiKeyRecord {
  id: string;
  name: string | null;
  /** First characters of the key, to tell keys apart. */
  prefix: string;
  createdAt: Date;
  /** Last request with the key, to the minute. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyRepository {
  /** The key with this hash and its tenant, unless revoked. */
  findByHash(hash: string): Promise<{ keyId: string; tenant: Tenant } | null>;
  createTenantIfMissing(name: string): Promise<Tenant>;
  findTenant(name: string): Promise<Tenant | null>;
  createKey(
    tenantId: string,
    key: { prefix: string; hash: string; name: string | null },
  ): Promise<ApiKeyRecord>;
  /** The tenant's keys, newest first, revoked ones included. */
  listKeys(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Revokes the tenant's key (again: no change); null when the tenant has no such key. */
  revokeKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | null>;
  /** Records a use of the key now, at most once a minute. */
  touchKey(keyId: string): Promise<void>;
}

/** Per-task evaluation and artifacts written atomically after each task. */
export interface TaskCompletion {
  task: number;
  completedTasks: number;
  accuracies: number[];
  /**
   * The row with running batch-norm statistics (`TaskEndEvent.runningStatsAccuracies`); absent or
   * null without batch norm.
   */
  runningStatsAccuracies?: number[] | null;
  /** This task's running batch-norm statistics; absent or null without batch norm. */
  batchNormStats?: BatchNormStats | null;
  durationMs: number;
  msPerIteration: number;
  checkpoint: Uint8Array;
  /**
   * The exports that changed (`tasksToExport`), each replacing the task's earlier one. Produced
   * one at a time as the store takes them, so only one is held in memory.
   */
  exports: Iterable<TaskExport>;
  embedding: number[] | null;
}

export interface MetricPointInput {
  kind: CurveKind;
  task: number;
  iteration: number;
  value: number;
  taskLoss?: number;
  outputReg?: number;
  driftReg?: number;
}

/**
 * What a training attempt reads and writes; never scoped to a tenant (workers serve all).
 *
 * Fencing: `markRunning` hands the job to the attempt's `lease` (the queue's lock token for it,
 * which the worker process knows too). Every later write names the lease and is refused in the
 * same statement or transaction once another attempt has taken the job over (a worker that hung
 * past its lock while the queue gave the job to another): it changes nothing and throws
 * StaleAttemptError. A write refused for the job's status alone (cancelled meanwhile) is silent.
 */
export interface TrainingStore {
  load(jobId: string): Promise<{ job: JobRecord; checkpoint: Uint8Array | null } | null>;
  status(jobId: string): Promise<JobStatus | null>;
  /**
   * queued/running -> running, owned by `lease` (attempt counted, backend recorded). False when the
   * job is no longer runnable.
   */
  markRunning(jobId: string, lease: string, backend: string, message: string): Promise<boolean>;
  saveProgress(
    jobId: string,
    lease: string,
    p: { task: number; iteration: number; etaMs: number; firstIteration: boolean },
  ): Promise<void>;
  addMetricPoints(jobId: string, lease: string, points: MetricPointInput[]): Promise<void>;
  /**
   * Writes `c` in one transaction; false (nothing written) when the job no longer exists. Throws
   * StaleAttemptError (nothing written) when another attempt owns the job.
   */
  completeTask(jobId: string, lease: string, c: TaskCompletion): Promise<boolean>;
  /**
   * Replaces the job's checkpoint with one written within task `completedTasks` (an epoch end);
   * task results and exports are untouched. False when the job no longer exists; throws
   * StaleAttemptError (nothing written) when another attempt owns the job.
   */
  saveCheckpoint(
    jobId: string,
    lease: string,
    c: { completedTasks: number; checkpoint: Uint8Array },
  ): Promise<boolean>;
  /** running -> succeeded. */
  succeed(jobId: string, lease: string, result: JobResult): Promise<void>;
  /** running/queued -> failed with an error code. */
  fail(jobId: string, lease: string, error: JobError): Promise<void>;
  /** running -> queued (handed back for a retry or to another worker). */
  requeue(jobId: string, lease: string, message: string): Promise<void>;
}

export type DatasetLoader = (name: JobSpec['benchmark']['dataset']) => Promise<RawDataset>;

/** Uploaded data sets as a training process reads them (any tenant: the job was checked at submission). */
export interface UploadedDatasets {
  /**
   * The decoded data set `id`, decoded with the format and options it was uploaded with.
   * @throws EngineError DATA_NOT_FOUND when it no longer exists; INVALID_DATA when its bytes are
   *   damaged, differ from `sha256` (the upload the job was submitted for) or no longer decode.
   */
  load(id: string, sha256: string): Promise<LabelledDataset>;
}

/** A data set as stored: where its bytes are and what validation found in them. */
export interface DatasetRecord extends DatasetSummary {
  id: string;
  tenantId: string;
  name: string | null;
  sha256: string;
  sizeBytes: number;
  /** How the upload is read; decoding it again with these gives the same samples. */
  options: DatasetReadOptions;
  status: 'ready';
  createdAt: Date;
}

/** The decode options that are part of a data set's identity (format is detected, not stored here). */
export interface DatasetReadOptions {
  labelColumn: string;
  testFraction: number;
  seed: number;
}

export interface NewDataset extends DatasetSummary {
  tenantId: string;
  name: string | null;
  sha256: string;
  sizeBytes: number;
  options: DatasetReadOptions;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/** Data sets and their bytes; every read is scoped to a tenant. */
export interface DatasetRepository {
  /**
   * Stores the record and `content` (the upload) in one transaction: either both are there or
   * neither. Returns the existing data set when the idempotency key is taken.
   */
  create(
    dataset: NewDataset,
    content: AsyncIterable<Uint8Array>,
  ): Promise<{ dataset: DatasetRecord; created: boolean; requestHash: string | null }>;
  findByIdempotencyKey(
    tenantId: string,
    key: string,
  ): Promise<{ dataset: DatasetRecord; requestHash: string | null } | null>;
  get(tenantId: string, id: string): Promise<DatasetRecord | null>;
  /** The tenant's data sets among `ids` (unknown ids and other tenants' data sets are left out). */
  getMany(tenantId: string, ids: string[]): Promise<DatasetRecord[]>;
  list(tenantId: string, opts: { limit: number; after?: Cursor }): Promise<DatasetRecord[]>;
  /**
   * Removes the record and its bytes unless a queued or running job of the tenant trains on it
   * (then `usedBy` lists those jobs and nothing is removed). Check and removal are atomic.
   */
  delete(tenantId: string, id: string): Promise<{ deleted: boolean; usedBy: string[] }>;
}

/** An upload received to local scratch space, hashed and measured on the way in. */
export interface SpooledUpload {
  path: string;
  sizeBytes: number;
  sha256: string;
  /** The bytes again, streamed from scratch space. */
  read(): AsyncIterable<Uint8Array>;
  /** Removes the scratch copy; safe to call twice. */
  discard(): Promise<void>;
}

export interface UploadSpool {
  /**
   * Streams `body` to scratch space. Throws DATASET_TOO_LARGE as soon as more than `maxBytes`
   * arrived (and removes what it wrote); any other failure also leaves nothing behind.
   */
  receive(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<SpooledUpload>;
}

/** Decodes and validates an upload without keeping its samples (see src/infra/datasets). */
export interface DatasetInspector {
  inspect(path: string, opts: DecodeOptions): Promise<DatasetSummary>;
}

/** A task model to predict with: `key` names this version of it; `load` fetches its bytes when needed. */
export interface TaskModelSource {
  key: string;
  load(): Promise<ModelArtifact>;
}

export interface PredictionBatch {
  predictions: Prediction[];
  /** Per model (same order as given): how its local classes are named. */
  labels: { globalLabels: number[]; classNames: string[] | null }[];
}

/** Runs task models on inputs in raw units (see src/infra/predictions). */
export interface Predictor {
  /**
   * `task` indexes `models`; null infers it per input: by FeCAM when every model comes with its
   * FeCAM statistics, by lowest entropy otherwise.
   */
  predict(
    models: TaskModelSource[],
    inputs: number[][],
    task: number | null,
  ): Promise<PredictionBatch>;
}

/** Turns an uploaded image file into the raw pixels a model takes (see src/infra/predictions). */
export interface ImageDecoder {
  /**
   * Row-major HWC pixels 0-255 of `bytes` (PNG or JPEG) with `shape[2]` channels (grey or RGB).
   * Throws INVALID_INPUT when it is no image or its size is not `shape[0]` x `shape[1]`.
   */
  decode(bytes: Uint8Array, shape: [number, number, number]): Promise<number[]>;
}

// --- Job event streams (GET /v1/jobs/:id/stream) and webhooks ---------------------------------

/**
 * Events of a job's stream. Every type but job.progress is stored and numbered (see
 * JobStreamEvent); job.progress is the job's current progress, sent live only.
 */
export const JOB_EVENT_TYPES = [
  'job.status',
  'job.progress',
  'job.loss',
  'job.validation',
  'job.task_completed',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** The last event of every stream: one of these ends it. */
export const FINAL_EVENT_TYPES: readonly JobEventType[] = [
  'job.succeeded',
  'job.failed',
  'job.cancelled',
];

/**
 * A stored event of a job's stream. `seq` numbers the job's events 1, 2, 3, ... in the order
 * their transactions committed, without gaps: having seen n means having seen 1..n.
 */
export interface JobStreamEvent {
  seq: number;
  type: Exclude<JobEventType, 'job.progress'>;
  at: Date;
  data: Record<string, unknown>;
}

/** Progress fields of a running job, as a job.progress event carries them. */
export type JobProgress = Pick<
  JobRecord,
  | 'status'
  | 'currentTask'
  | 'iteration'
  | 'completedTasks'
  | 'tasksTotal'
  | 'iterationsPerTask'
  | 'etaMs'
>;

/** The stored streams. */
export interface JobEventLog {
  /** Events of the job after `afterSeq`, oldest first, at most `limit`. */
  after(jobId: string, afterSeq: number, limit: number): Promise<JobStreamEvent[]>;
  /** Number of the job's last event (0: none yet); null when the job does not exist. */
  head(jobId: string): Promise<number | null>;
}

/** What a subscriber to a job's live events is told. */
export interface JobEventListener {
  /** A stored event, as soon as its transaction committed. Events of a job come in `seq` order. */
  event(e: JobStreamEvent): void;
  progress(p: JobProgress): void;
  /** Live events may have been missed (the feed reconnected, or an event was too large to announce): read the log. */
  resync(): void;
  /** The job was deleted. */
  gone(): void;
}

/** Live events of all jobs, whichever process wrote them. */
export interface JobEventFeed {
  /**
   * Resolves once the feed listens: every event committed after that reaches `listener`. Returns
   * the unsubscribe function.
   */
  subscribe(jobId: string, listener: JobEventListener): Promise<() => void>;
}

/** Event types a webhook can receive (loss and validation points are too frequent for webhooks). */
export const WEBHOOK_EVENT_TYPES = [
  'job.status',
  'job.task_completed',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookRecord {
  id: string;
  tenantId: string;
  url: string;
  events: WebhookEventType[];
  createdAt: Date;
  /** Until then the secret replaced by the last rotation signs deliveries too; null: no overlap. */
  previousSecretExpiresAt: Date | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveryRecord {
  /** Also the webhook-id header: the same on every attempt. */
  id: string;
  webhookId: string;
  jobId: string;
  /** The event's number in the job's stream. */
  eventSeq: number;
  eventType: WebhookEventType;
  status: DeliveryStatus;
  attempts: number;
  /** HTTP status of the last attempt; null when there was no answer. */
  statusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/** Webhooks as the API sees them; every call is scoped to a tenant. */
export interface WebhookRepository {
  create(webhook: {
    id: string;
    tenantId: string;
    url: string;
    events: WebhookEventType[];
    secret: string;
  }): Promise<WebhookRecord>;
  count(tenantId: string): Promise<number>;
  list(tenantId: string, opts: { limit: number; after?: Cursor }): Promise<WebhookRecord[]>;
  get(tenantId: string, id: string): Promise<WebhookRecord | null>;
  /**
   * Makes `secret` the webhook's secret; the one it replaces keeps signing until
   * `previousExpiresAt` (null: from now on only the new one). Null when the tenant has no such
   * webhook.
   */
  rotateSecret(
    tenantId: string,
    id: string,
    secret: string,
    previousExpiresAt: Date | null,
  ): Promise<WebhookRecord | null>;
  /** Deletes the webhook and its delivery log; false when the tenant has no such webhook. */
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Deliveries of a webhook (already checked to be the tenant's), newest first. */
  deliveries(
    webhookId: string,
    opts: { limit: number; after?: Cursor },
  ): Promise<WebhookDeliveryRecord[]>;
}

/** Where webhooks may be delivered (see src/infra/webhooks/address-policy.ts). */
export interface WebhookTargets {
  /** Throws INVALID_WEBHOOK_URL when the URL's host is, or resolves to, an address deliveries may not go to. */
  check(url: string): Promise<void>;
}

/** A delivery as the webhook worker sends it. */
export interface DeliveryToSend {
  id: string;
  status: DeliveryStatus;
  attempts: number;
  url: string;
  /** Secrets that sign it: the current one, then the previous one while its overlap lasts. */
  secrets: string[];
  /** The request body, the same on every attempt. */
  body: string;
}

/** Deliveries as the webhook worker reads and records them (any tenant). */
export interface WebhookDeliveryStore {
  /** Pending deliveries that are not on the queue yet, oldest first. */
  unqueued(limit: number): Promise<string[]>;
  /** Pending deliveries put on the queue before `before` (the queue may have lost them), oldest first. */
  queuedBefore(before: Date, limit: number): Promise<string[]>;
  markQueued(ids: string[]): Promise<void>;
  /** Null when the delivery (or its webhook) was deleted. */
  load(id: string): Promise<DeliveryToSend | null>;
  /** Counts an attempt and records its answer. */
  recordAttempt(
    id: string,
    attempt: { statusCode: number | null; error: string | null; status: DeliveryStatus },
  ): Promise<void>;
}

/** The webhook queue (BullMQ; the delivery id is the queue job's id, so adding twice is harmless). */
export interface WebhookDeliveryQueue {
  add(deliveryIds: string[]): Promise<void>;
  has(deliveryId: string): Promise<boolean>;
}

/** Sends one webhook request. */
export interface WebhookSender {
  /**
   * POSTs `body` to `url` and resolves with the answer's status, within the configured timeout.
   * Throws INVALID_WEBHOOK_URL (a ServiceError; retrying cannot help) when the URL now resolves to
   * an address deliveries may not go to, and an ordinary error when no answer came.
   */
  post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number }>;
}
