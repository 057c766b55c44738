import type { JobSpec } from '../spec.js';
import type { ContinualTask } from '../data/types.js';

/** Progress of one training iteration. Emitted every iteration; consumers throttle. */
export interface IterationEvent {
  task: number;
  tasks: number;
  iteration: number;
  iterations: number;
  /** Total loss and its parts (cross-entropy or MSE, output regulariser, L1 drift). */
  loss: number;
  taskLoss: number;
  outputReg: number;
  driftReg: number;
  /** Wall time of this iteration. */
  ms: number;
  /** Estimated time to the end of the whole job, from the median iteration time so far. */
  etaMs: number;
}

export interface ValidationEvent {
  task: number;
  iteration: number;
  accuracy: number;
}

/** Deployable artifacts of one task, as bytes; the caller decides where they go. */
export interface TaskExport {
  task: number;
  /** safetensors file with one mask tensor per masked target tensor (null for finetune and hnet). */
  mask: Uint8Array | null;
  /**
   * TensorFlow.js LayersModel: model.json content and its single weights file; null when no
   * LayersModel computes what the engine computes (ResNet's batch statistics), `modelUnavailable`
   * saying why.
   */
  model: {
    modelJson: Record<string, unknown>;
    weights: Uint8Array;
    weightsFileName: string;
  } | null;
  modelUnavailable: string | null;
  /**
   * The task's FeCAM statistics (safetensors, see fecam.ts: `encodeFecam`), for predictions
   * without a task id; null when the spec does not infer tasks by FeCAM.
   */
  fecam?: Uint8Array | null;
}

export interface ContinualMetrics {
  /** A[k][j]: test accuracy on task j after training through task k (j <= k), in [0, 1]. */
  accuracyMatrix: number[][];
  /** Mean of the last row. */
  averageAccuracy: number;
  /** Lopez-Paz & Ranzato; null with one task. */
  backwardTransfer: number | null;
  /** Chaudhry et al.; null with one task. */
  forgetting: number | null;
}

export interface TaskEndEvent {
  task: number;
  /** Tasks in the run. */
  tasks: number;
  metrics: ContinualMetrics;
  durationMs: number;
  /** Median wall time of one training iteration of this task. */
  msPerIteration: number;
  /** Everything needed to continue after this task (see checkpoint.ts for the format). */
  checkpoint: Uint8Array;
  /**
   * The export of task `k` (0..task) computed with the current model, on demand: exports of
   * earlier tasks change as training goes on (HyperMask's theta, HNET's hypernetwork, finetune's
   * weights), and a consumer decides which it keeps (see `tasksToExport`). Only valid until the
   * callback returns.
   */
  exportTask(k: number): TaskExport;
}

export interface TaskInferenceResult {
  /** Fraction of test samples whose task was inferred correctly (mean over tasks of each task's fraction). */
  taskAccuracy: number;
  /** Fraction classified correctly on global labels with the inferred task. */
  classAccuracy: number;
  perTask: { task: number; taskAccuracy: number; classAccuracy: number }[];
}

export interface ContinualResult extends ContinualMetrics {
  spec: JobSpec;
  msPerIteration: number[];
  taskDurationsMs: number[];
  /** Task inference by lowest softmax entropy (method section 7.2); null when not asked for. */
  taskInference: TaskInferenceResult | null;
  /** Task inference by FeCAM (method section 7.3, fecam.ts); null when not asked for. */
  fecamTaskInference: TaskInferenceResult | null;
}

/** Hooks through which training reports; awaited, so a consumer can persist before training goes on. */
export interface TrainingCallbacks {
  onTaskBegin?(e: { task: number; tasks: number; resumed: boolean }): void | Promise<void>;
  onIteration?(e: IterationEvent): void | Promise<void>;
  onValidation?(e: ValidationEvent): void | Promise<void>;
  onTaskEnd?(e: TaskEndEvent): void | Promise<void>;
  onTrainEnd?(result: ContinualResult): void | Promise<void>;
}

export interface RunOptions {
  /** The task sequence (see data/benchmarks.ts: buildTasks). */
  tasks: ContinualTask[];
  callbacks?: TrainingCallbacks;
  /** Aborting stops training at the next iteration with a CancelledError. */
  signal?: AbortSignal;
  /** A checkpoint from `TaskEndEvent.checkpoint`; training continues after its last task. */
  resumeFrom?: Uint8Array;
  /** Called between iterations so the host event loop can run (timers, IPC, lock renewal). */
  yieldEvery?: { iterations: number; fn: () => Promise<void> };
}
