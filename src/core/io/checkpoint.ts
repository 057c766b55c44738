import * as tf from '@tensorflow/tfjs-core';
import { EngineError } from '../errors.js';
import {
  isStatsTensor,
  statsFromTensors,
  statsTensors,
  type BatchNormStats,
} from '../continual/batch-norm-stats.js';
import type { Learner, TaskStateArray } from '../methods/learner.js';
import { fecamFromTensors, fecamTensors, type FecamTaskStatistics } from '../inference/fecam.js';
import { continuesSpec, sameJson } from '../spec-continuation.js';
import { SPEC_VERSION, upgradeStoredSpec, type JobSpec } from '../spec.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/**
 * Checkpoint format (version 1): a safetensors file (see safetensors.ts) holding every model
 * variable under its stable name ("target/dense_1/kernel", "hnet/head_0_0/kernel",
 * "hnet/embedding_3", ...), with `__metadata__` = { format: "retain-checkpoint", version: "1",
 * state: JSON of `CheckpointState` }. Targets with batch norm add each completed task's running
 * statistics (`batch_norm_stats/task_<t>/bn_1/mean`, ...; batch-norm-stats.ts).
 *
 * That is all a resumed run needs: optimisers are re-created at every task, the regularisation
 * targets (hypernetwork outputs for earlier tasks, theta at the start of the task) are recomputed
 * from these weights at the start of the next task, and the random stream continues from
 * `rngState`. So a run resumed after task k ends with the results of an uninterrupted run.
 *
 * FeCAM statistics of the finished tasks (when the spec infers tasks by FeCAM) are tensors too,
 * `fecam/task_<t>/class_<c>/mean`, `.../precision` and `.../count` (fecam.ts): they come from each
 * task's training data under its weights right after it and cannot be recomputed later.
 *
 * A checkpoint written within a task (at an epoch end, `TrainingCallbacks.onEpochEnd`) also holds
 * what the task carries: `state.inTask` (iterations done, batch order, plateau state, learning
 * rates, best validation accuracy) and tensors named `task/...`: the learner's optimiser moments
 * and regularisation targets (`task/learner/...`) and the best epoch's model (`task/best/...`).
 * A run resumed from it continues the task at the next iteration, bit for bit.
 */
export interface CheckpointState {
  /** Tasks finished; training continues with task index `completedTasks`. */
  completedTasks: number;
  rngState: number[];
  /** The resolved spec the run was started with; resuming with another spec is refused. */
  spec: JobSpec;
  accuracyMatrix: number[][];
  /**
   * Targets with batch norm: row k evaluated with each task's running statistics (the accuracy
   * matrix's twin, see batch-norm-stats.ts). Absent without batch norm and in checkpoints written
   * before the statistics existed.
   */
  runningStatsAccuracyMatrix?: number[][];
  msPerIteration: number[];
  taskDurationsMs: number[];
  /** Only in a checkpoint written within task `completedTasks`: where that task stands. */
  inTask?: InTaskState;
}

/** Where a task stands at an epoch end (see the format above). */
export interface InTaskState {
  /** Iterations of the task done. */
  iteration: number;
  /** The batch sampler: the current epoch's order and the position in it. */
  sampler: { order: number[]; cursor: number };
  /** The plateau rule's state (null without it); its best is null before the first epoch end. */
  plateau: { best: number | null; badEpochs: number; cooldownLeft: number } | null;
  /** Best validation accuracy offered to model selection (null: none, or selection off). */
  bestAccuracy: number | null;
  /** The learning rates of the task's optimisers. */
  learningRates: number[];
  /** Wall time of the task so far. */
  elapsedMs: number;
}

/** Prefix of the within-task tensors of a checkpoint written within a task. */
const TASK_PREFIX = 'task/';

export const CHECKPOINT_FORMAT = 'retain-checkpoint';

/** Prefix of the FeCAM statistics' tensor names in a checkpoint. */
const FECAM_PREFIX = 'fecam/';

/**
 * The learner's variables and `state`, with what else a checkpoint carries: each finished task's
 * batch-norm running statistics and FeCAM statistics (null for a task without them), and in a
 * checkpoint written within a task, the within-task arrays (`taskArrays`, named without the
 * prefix).
 */
export function encodeCheckpoint(
  learner: Learner,
  state: CheckpointState,
  extra: {
    batchNormStats?: ReadonlyMap<number, BatchNormStats>;
    taskArrays?: TaskStateArray[];
    fecam?: readonly (FecamTaskStatistics | null)[];
  } = {},
): Uint8Array {
  const tensors = [
    ...learner.namedVariables().map(({ name, variable }) => ({
      name,
      shape: variable.shape,
      data: variable.dataSync() as Float32Array,
    })),
    ...statsTensors(extra.batchNormStats ?? new Map(), learner.target.batchNormNames),
    ...(extra.taskArrays ?? []).map((a) => ({ ...a, name: TASK_PREFIX + a.name })),
    ...(extra.fecam ?? []).flatMap((stats, t) =>
      stats ? fecamTensors(stats, `${FECAM_PREFIX}task_${t}/`) : [],
    ),
  ];
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    version: '1',
    specVersion: String(SPEC_VERSION),
    state: JSON.stringify(state),
  });
}

/**
 * Reads the state without touching any model (for inspection). The spec comes back as of
 * `SPEC_VERSION`: checkpoints record the spec version they were written with (those written
 * before they did hold version 1 specs) and older ones are upgraded.
 */
export function readCheckpointState(bytes: Uint8Array): CheckpointState {
  const { metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.version !== '1') {
    throw new EngineError('INVALID_CHECKPOINT', `not a version 1 ${CHECKPOINT_FORMAT} file`);
  }
  const specVersion = metadata.specVersion === undefined ? 1 : Number(metadata.specVersion);
  if (!Number.isInteger(specVersion) || specVersion > SPEC_VERSION) {
    throw new EngineError(
      'INVALID_CHECKPOINT',
      `the checkpoint's spec is of version ${metadata.specVersion}; this code reads up to version ${SPEC_VERSION}`,
    );
  }
  const state = JSON.parse(metadata.state) as CheckpointState;
  return { ...state, spec: upgradeStoredSpec(state.spec, specVersion) };
}

/**
 * Loads the weights into `learner` and returns the saved state, with the per-task batch-norm
 * statistics the checkpoint holds (`batchNormStats`, none for targets without batch norm).
 * `spec` must be the checkpoint's spec, or that spec with more tasks appended (a continued job,
 * see `continuesSpec`). The learner gets the embeddings of the checkpoint's completed tasks first;
 * later ones are created as their tasks begin.
 */
export function restoreCheckpoint(
  bytes: Uint8Array,
  learner: Learner,
  spec: JobSpec,
): CheckpointState & { batchNormStats: Map<number, BatchNormStats> } {
  const state = readCheckpointState(bytes);
  if (!sameJson(state.spec, spec) && !continuesSpec(spec, state.spec)) {
    throw new EngineError('INVALID_CHECKPOINT', 'the checkpoint was written for a different spec');
  }
  const all = decodeSafetensors(bytes, (name) => !name.startsWith(FECAM_PREFIX)).tensors;
  const batchNormStats = statsFromTensors(all, learner.target.batchNormNames);
  const saved = new Map(
    all
      .filter((t) => !isStatsTensor(t.name) && !t.name.startsWith(TASK_PREFIX))
      .map((t) => [t.name, t]),
  );
  // Checkpoints written before embeddings were created per task hold every task's embedding
  // (trained or not); restoring all of them resumes such a job as it would have gone on.
  const embeddings = [...saved.keys()].filter((name) => name.startsWith('hnet/embedding_')).length;
  learner.hnet?.ensureTasks(Math.max(state.completedTasks, embeddings));
  const vars = learner.namedVariables();
  if (saved.size !== vars.length) {
    throw new EngineError(
      'INVALID_CHECKPOINT',
      `checkpoint has ${saved.size} tensors, the model ${vars.length}`,
    );
  }
  for (const { name, variable } of vars) {
    const t = saved.get(name);
    if (!t || t.shape.join(',') !== variable.shape.join(',')) {
      throw new EngineError(
        'INVALID_CHECKPOINT',
        `checkpoint tensor ${name} is missing or has another shape`,
      );
    }
    tf.tidy(() => variable.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
  return { ...state, batchNormStats };
}

/** The within-task arrays of a checkpoint written within a task, by name without the `task/` prefix. */
export function checkpointTaskArrays(bytes: Uint8Array): Map<string, TaskStateArray> {
  return new Map(
    decodeSafetensors(bytes)
      .tensors.filter((t) => t.name.startsWith(TASK_PREFIX))
      .map((t) => {
        const name = t.name.slice(TASK_PREFIX.length);
        return [name, { name, shape: t.shape, data: t.data }];
      }),
  );
}

/**
 * The FeCAM statistics a checkpoint holds, by task (null for a task without them: none were
 * wanted, or the checkpoint predates them).
 */
export function readCheckpointFecam(bytes: Uint8Array): (FecamTaskStatistics | null)[] {
  const { tensors } = decodeSafetensors(bytes, (name) => name.startsWith(FECAM_PREFIX));
  const tasks = new Set<number>();
  for (const t of tensors) {
    const m = /^fecam\/task_(\d+)\//.exec(t.name);
    if (m) tasks.add(Number(m[1]));
  }
  const out: (FecamTaskStatistics | null)[] = [];
  for (const t of [...tasks].sort((a, b) => a - b)) {
    while (out.length < t) out.push(null);
    out[t] = fecamFromTensors(tensors, `${FECAM_PREFIX}task_${t}/`);
  }
  return out;
}
