/**
 * The service's configuration: one schema, read once per entry point (`loadEnv()`), passed down.
 * Nothing else reads `process.env`. Every variable is documented in .env.example.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const int = (def: number, min: number, description: string) =>
  Type.Integer({ default: def, minimum: min, description });

export const EnvSchema = Type.Object({
  PORT: int(3000, 0, 'HTTP port of the API'),
  HOST: Type.String({ default: '0.0.0.0', description: 'address the API binds to' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  DATABASE_URL: Type.String({
    default: 'postgresql://postgres@127.0.0.1:5432/postgres',
    description: 'PostgreSQL URL; an optional ?schema=NAME selects the schema (default public)',
  }),
  DATABASE_POOL_SIZE: int(10, 1, 'Postgres connections per API process'),
  REDIS_URL: Type.String({
    default: 'redis://127.0.0.1:6379',
    description: 'Redis URL for BullMQ',
  }),
  QUEUE_NAME: Type.String({
    default: 'retain-training',
    minLength: 1,
    description: 'BullMQ queue name',
  }),
  QUEUE_PREFIX: Type.String({ default: 'bull', minLength: 1, description: 'BullMQ key prefix' }),
  RETAIN_DATA_DIR: Type.String({
    default: './data',
    description:
      'holds <dataset>/ folders of IDX files (fashion-mnist falls back to /usr/share/datasets/fashion-mnist)',
  }),
  RETAIN_BACKEND: Type.Union(
    ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].map((l) => Type.Literal(l)),
    { default: 'auto', description: 'TF.js backend of the training processes' },
  ),
  WORKER_CONCURRENCY: int(
    1,
    1,
    'jobs trained at once per worker process, each in its own training process on the devices that process sees (to give each job its own GPU, run one worker per GPU with CUDA_VISIBLE_DEVICES set)',
  ),
  LOCK_DURATION_MS: int(
    30_000,
    1000,
    'BullMQ lock duration; a dead worker is noticed after about this long',
  ),
  STALLED_INTERVAL_MS: int(15_000, 500, 'how often workers look for stalled jobs'),
  MAX_STALLED_COUNT: int(3, 0, 'times a job may stall (worker died) before it fails'),
  JOB_ATTEMPTS: int(3, 1, 'attempts for transient failures'),
  JOB_BACKOFF_MS: int(5000, 0, 'first retry delay (exponential backoff)'),
  SHUTDOWN_GRACE_MS: int(
    20_000,
    0,
    'on SIGTERM: finish the current task if it ends within this, else stop now',
  ),
  PROGRESS_THROTTLE_MS: int(1000, 0, 'minimum time between progress writes to Postgres'),
  EPOCH_CHECKPOINT_MS: int(
    600_000,
    0,
    'within a task measured in epochs, store a checkpoint at the first epoch end this long after the last one (0: at every epoch end)',
  ),
  LOSS_EVERY: int(10, 1, 'record every Nth iteration of the loss curve'),
  CANCEL_POLL_MS: int(500, 50, 'how often a training process checks for cancellation'),
  RECONCILE_INTERVAL_MS: int(
    60_000,
    0,
    'API: how often queued/running jobs missing from the queue are put back, and jobs the queue failed are failed (0: never)',
  ),
  RECONCILE_GRACE_MS: int(
    60_000,
    0,
    'API: jobs updated more recently than this are left alone by the reconciler (a submission between insert and enqueue)',
  ),
  CORS_ORIGINS: Type.String({
    default: '',
    description:
      'API: origins (comma-separated, e.g. https://app.example.com) whose browser pages may call the API; empty: none (no CORS headers)',
  }),
  API_KEY_CACHE_MS: int(
    2000,
    0,
    'API: how long a process trusts an API key lookup (a key revoked on another API process stops working within this)',
  ),
  RATE_LIMIT_MAX: int(
    600,
    0,
    'API: requests per API key (or per address without a key) in RATE_LIMIT_WINDOW_MS, counted in Redis across API processes; 0 turns the limit off',
  ),
  RATE_LIMIT_WINDOW_MS: int(60_000, 1000, 'API: the window of RATE_LIMIT_MAX'),
  MAX_ACTIVE_JOBS_PER_TENANT: int(
    100,
    0,
    'API: most queued plus running jobs per tenant (a submission over it answers 429); 0: no cap',
  ),
  RETENTION_CHECKPOINT_DAYS: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'API: remove the checkpoints of jobs that finished more than this many days ago (results and downloads stay; such a job can no longer be continued). Unset: keep all',
    }),
  ),
  RETENTION_INTERVAL_MS: int(
    3_600_000,
    100,
    'API: how often checkpoints past RETENTION_CHECKPOINT_DAYS are looked for and removed',
  ),
  API_RATE_BODY_LIMIT: int(
    1_048_576,
    1024,
    'largest accepted JSON request body in bytes (uploads have their own limit)',
  ),
  REQUEST_TIMEOUT_MS: int(
    3_600_000,
    1000,
    'API: longest time to receive one request, body included (large uploads over slow links need long)',
  ),
  DATASET_MAX_UPLOAD_BYTES: int(
    2 * 1024 ** 3,
    1,
    'API: largest data set upload in bytes (413 as soon as it is passed)',
  ),
  DATASET_MAX_EXPANDED_BYTES: int(
    8 * 1024 ** 3,
    1,
    'API and workers: most bytes an upload may expand to when decompressed',
  ),
  DATASET_INSPECT_CONCURRENCY: int(
    1,
    1,
    'API: uploads decoded and validated at once (each in its own thread)',
  ),
  DATASET_INSPECT_TIMEOUT_MS: int(
    1_800_000,
    1000,
    'API: longest time to decode and validate one upload',
  ),
  UPLOAD_DIR: Type.String({
    default: '',
    description:
      'API: scratch directory for uploads in progress (default: <os tmpdir>/retain-uploads)',
  }),
  PREDICT_BACKEND: Type.Union(
    ['wasm', 'cpu'].map((l) => Type.Literal(l)),
    {
      default: 'wasm',
      description: 'API: TF.js backend of the prediction thread (falls back to cpu)',
    },
  ),
  PREDICT_CACHE_MODELS: int(64, 1, 'API: task models kept decoded in memory for predictions'),
  PREDICT_TIMEOUT_MS: int(30_000, 100, 'API: longest time one predict request may compute'),
  BLOB_CHUNK_BYTES: int(
    1024 ** 2,
    1024,
    'size of the chunks large bytes are stored in (Postgres refuses values over 1 GB)',
  ),
  STREAM_HEARTBEAT_MS: int(
    15_000,
    100,
    'API: time between heartbeat comments on open event streams',
  ),
  STREAM_PROGRESS_MS: int(
    1000,
    0,
    'API: at most one job.progress event per job this often on event streams (the latest is always sent)',
  ),
  WEBHOOK_QUEUE_NAME: Type.String({
    default: 'retain-webhooks',
    minLength: 1,
    description: 'BullMQ queue of webhook deliveries',
  }),
  WEBHOOK_ALLOWED_NETWORKS: Type.String({
    default: '',
    description:
      'API and webhook worker: comma-separated addresses or CIDR networks webhooks may go to although they are not public (loopback, private, link-local)',
  }),
  WEBHOOK_TIMEOUT_MS: int(
    5000,
    100,
    'webhook worker: longest wait for a receiver to answer one delivery attempt',
  ),
  WEBHOOK_ATTEMPTS: int(10, 1, 'webhook worker: attempts per delivery before it is marked failed'),
  WEBHOOK_BACKOFF_MS: int(
    10_000,
    0,
    'webhook worker: delay before the first retry (exponential backoff: 10 s, 20 s, 40 s, ...)',
  ),
  WEBHOOK_CONCURRENCY: int(16, 1, 'webhook worker: deliveries sent at once'),
  WEBHOOK_SWEEP_MS: int(
    5000,
    100,
    'webhook worker: how often pending deliveries are looked for besides the NOTIFY that announces them',
  ),
  DATASET_CACHE_DIR: Type.String({
    default: '',
    description:
      'workers: decoded copies of uploaded data sets, per SHA-256 and read options (default: <os tmpdir>/retain-dataset-cache)',
  }),
  DATASET_CACHE_MAX_BYTES: int(
    20 * 1024 ** 3,
    0,
    'workers: most bytes the data set cache keeps; the least recently used copies are deleted first',
  ),
});
export type Env = Static<typeof EnvSchema>;

export interface Config extends Env {
  /** DATABASE_URL without the `schema` parameter. */
  databaseUrl: string;
  /** Postgres schema (from `?schema=`), "public" by default. */
  databaseSchema: string;
}

/** Splits Prisma's `?schema=` parameter off a Postgres URL (node-postgres does not know it). */
export function splitDatabaseUrl(url: string): { url: string; schema: string } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? 'public';
  u.searchParams.delete('schema');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
    throw new Error(`DATABASE_URL: invalid schema name "${schema}"`);
  return { url: u.toString(), schema };
}

/** Parses and validates the environment; throws one error listing every invalid variable. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const v = source[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const value = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw));
  const errors = [...Value.Errors(EnvSchema, value)].map(
    (e) => `${e.path.slice(1)}: ${e.message} (got ${JSON.stringify(e.value)})`,
  );
  if (errors.length) throw new Error(`invalid configuration:\n  ${errors.join('\n  ')}`);
  const env = value as Env;
  const { url, schema } = splitDatabaseUrl(env.DATABASE_URL);
  return { ...env, databaseUrl: url, databaseSchema: schema };
}
