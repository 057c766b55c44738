import type { JobSpec } from '../spec.js';
import type { ContinualTask } from '../data/types.js';
import type { BatchNormStats } from '../target-network/target-network.js';

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
   * TensorFlow.js LayersModel: model.json content and its single weights file (a ResNet's
   * normalises with the task's running statistics); null when no LayersModel computes what the
   * engine computes (a ResNet task without running statistics), `modelUnavailable` saying why.
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
  /**
   * Targets with batch norm: row `task` of the accuracy matrix evaluated with each task's running
   * statistics instead of each test batch's (`ContinualResult.runningStatsMetrics`); else null.
   */
  runningStatsAccuracies: number[] | null;
  /** The running batch-norm statistics computed for this task (null without batch norm). */
  batchNormStats: BatchNormStats | null;
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
  /**
   * Targets with batch norm (ResNet): the same metrics with every task evaluated on its stored
   * running statistics (how a deployed model predicts, one sample at a time), beside the
   * batch-statistics ones above (the reference's protocol). Null without batch norm.
   */
  runningStatsMetrics: ContinualMetrics | null;
  msPerIteration: number[];
  taskDurationsMs: number[];
  /** Task inference by lowest softmax entropy (method section 7.2); null when not asked for. */
  taskInference: TaskInferenceResult | null;
  /** Task inference by FeCAM (method section 7.3, fecam.ts); null when not asked for. */
  fecamTaskInference: TaskInferenceResult | null;
}

/** The end of an epoch within a task (not the task's last: `onTaskEnd` follows that one). */
export interface EpochEndEvent {
  task: number;
  tasks: number;
  /** Epochs of the task done (1-based). */
  epoch: number;
  /** The task's iteration that ended the epoch (0-based). */
  iteration: number;
  /**
   * A checkpoint to continue the task from the next iteration, bit for bit (checkpoint.ts), encoded
   * on demand (it holds the model, the optimisers' moments and the best epoch's model). Only valid
   * until the callback returns.
   */
  checkpoint(): Uint8Array;
}

/** Hooks through which training reports; awaited, so a consumer can persist before training goes on. */
export interface TrainingCallbacks {
  onTaskBegin?(e: { task: number; tasks: number; resumed: boolean }): void | Promise<void>;
  onIteration?(e: IterationEvent): void | Promise<void>;
  onValidation?(e: ValidationEvent): void | Promise<void>;
  /** At every epoch end but a task's last (task lengths count epochs over the task's training split). */
  onEpochEnd?(e: EpochEndEvent): void | Promise<void>;
  onTaskEnd?(e: TaskEndEvent): void | Promise<void>;
  onTrainEnd?(result: ContinualResult): void | Promise<void>;
}

export interface RunOptions {
  /** The task sequence (see data/benchmarks.ts: buildTasks). */
  tasks: ContinualTask[];
  callbacks?: TrainingCallbacks;
  /** Aborting stops training at the next iteration with a CancelledError. */
  signal?: AbortSignal;
  /**
   * A checkpoint from `TaskEndEvent.checkpoint` (training continues after its last task) or from
   * `EpochEndEvent.checkpoint` (training continues within that task).
   */
  resumeFrom?: Uint8Array;
  /** Called between iterations so the host event loop can run (timers, IPC, lock renewal). */
  yieldEvery?: { iterations: number; fn: () => Promise<void> };
}
