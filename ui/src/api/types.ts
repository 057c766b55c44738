/**
 * The API's resources as the dashboard reads them (openapi/openapi.json has them in full). Only
 * the fields the pages use are listed.
 */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface JobProgress {
  completedTasks: number;
  tasksTotal: number;
  currentTask: number | null;
  iteration: number | null;
  iterationsPerTask: number;
  iterationsDone: number;
  iterationsTotal: number;
  fraction: number;
  etaMs: number | null;
}

export interface TaskLinks {
  task: number;
  mask: string | null;
  model: string;
}

export interface JobSpec {
  method: 'hypermask' | 'hnet' | 'finetune';
  benchmark: {
    kind: 'split' | 'permuted' | 'datasets';
    dataset: string;
    tasks: number | { dataset: string; classes?: string[] }[];
  };
  /** One of iterationsPerTask and epochsPerTask is set (specs stored before epochs have no epochsPerTask). */
  training: { iterationsPerTask: number | null; epochsPerTask?: number | null; seed: number };
  /** The target network; a ResNet's TF.js model normalises with each task's running batch-norm statistics. */
  network?: { kind?: 'mlp' | 'zenkenet' | 'resnet' };
  [section: string]: unknown;
}

export interface Job {
  id: string;
  name: string | null;
  status: JobStatus;
  spec: JobSpec;
  backend: string | null;
  progress: JobProgress;
  continueFrom: string | null;
  inheritedTasks: number;
  attempts: number;
  error: { code: string; message: string } | null;
  result: {
    averageAccuracy: number;
    backwardTransfer: number | null;
    forgetting: number | null;
  } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  links: {
    self: string;
    metrics: string;
    cancel: string;
    /** Server-Sent Events of the job's life; absent on API versions without the stream. */
    stream?: string;
    tasks: TaskLinks[];
  };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type CurveKind = 'loss' | 'validation';

export interface CurvePoint {
  task: number;
  iteration: number;
  /** Loss (curve=loss) or validation accuracy (curve=validation). */
  value: number;
}

export interface TaskInference {
  taskAccuracy: number;
  classAccuracy: number;
  perTask: { task: number; taskAccuracy: number; classAccuracy: number }[];
}

export interface JobMetrics {
  status: JobStatus;
  /** Row k: test accuracy on tasks 0..k after training through task k. */
  accuracyMatrix: number[][];
  averageAccuracy: number | null;
  backwardTransfer: number | null;
  forgetting: number | null;
  taskDurationsMs: number[];
  msPerIteration: number[];
  /** Task inference by lowest softmax entropy. */
  taskInference: TaskInference | null;
  /** Task inference by FeCAM (absent from servers before it). */
  fecamTaskInference?: TaskInference | null;
  /**
   * ResNet: the evaluation with each task's running batch-norm statistics (how its model predicts
   * one input); else null.
   */
  runningStats: {
    accuracyMatrix: number[][];
    averageAccuracy: number;
    backwardTransfer: number | null;
    forgetting: number | null;
  } | null;
  curve: { kind: CurveKind; points: CurvePoint[]; nextCursor: string | null };
}

export interface Dataset {
  id: string;
  name: string | null;
  format: string;
  sizeBytes: number;
  inputShape: number[];
  dtype: 'uint8' | 'float32';
  classNames: string[];
  samples: { train: number; test: number };
  createdAt: string;
}
